"""The one registry of program settings (points, checkin, referral, segments, messaging).

Defaults in code, overrides in the database (`program_configs`). Each program's module registers
its defaults with `register_defaults(name, dict)` at import time; every read of a program's
settings is `get_config` (the stored settings merged over those defaults) and every write is
`put_config`. A name nobody registered is a programming error, not an empty program.
"""

from __future__ import annotations

import copy
import pickle
import threading
import time

from sqlalchemy.orm import Session

from app.models.programs import ProgramConfig
from app.models.staff import Staff
from app.services.staff import audit

_DEFAULTS: dict[str, dict] = {}
# Settings are read on every check-in and purchase: keep them a few seconds per process.
# A change made here is seen at once by this process and within CACHE_SECONDS by the others.
CACHE_SECONDS = 5.0
# Kept pickled: every caller gets its own copy (some adjust it), and unpickling a small dict is
# several times cheaper than copy.deepcopy.
_cache: dict[tuple[str, str], tuple[float, bytes]] = {}
_cache_lock = threading.Lock()


def register_defaults(name: str, defaults: dict) -> None:
    if name in _DEFAULTS and _DEFAULTS[name] != defaults:
        raise ValueError(f"program {name!r} is registered twice with different defaults")
    _DEFAULTS[name] = defaults


def registered() -> list[str]:
    """The programs whose settings this registry holds."""
    return sorted(_DEFAULTS)


def _known(name: str) -> None:
    if name not in _DEFAULTS:
        raise KeyError(f"no program {name!r} is registered (known: {', '.join(registered())})")


def get_config(session: Session, name: str) -> dict:
    """The program's settings: what marketing saved, over the built-in defaults."""
    _known(name)
    key = (str(session.get_bind().url), name)
    cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return pickle.loads(cached[1])
    merged = copy.deepcopy(_DEFAULTS[name])
    row = session.get(ProgramConfig, name)
    if row is not None:
        merged.update(copy.deepcopy(row.config))
    with _cache_lock:
        _cache[key] = (time.monotonic(), pickle.dumps(merged, pickle.HIGHEST_PROTOCOL))
    return merged


def cached(session: Session, key: str, load):
    """`load(session)` (picklable), kept CACHE_SECONDS per process as the settings are, and
    dropped with them by forget_cached: for what every purchase reads and marketing rarely
    changes (the promotions on offer)."""
    cache_key = (str(session.get_bind().url), f"~{key}")
    found = _cache.get(cache_key)
    if found is not None and time.monotonic() - found[0] < CACHE_SECONDS:
        return pickle.loads(found[1])
    value = load(session)
    with _cache_lock:
        _cache[cache_key] = (time.monotonic(), pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    return value


def forget_cached() -> None:
    """Drop every cached setting (after a change, and between tests)."""
    with _cache_lock:
        _cache.clear()


def put_config(session: Session, name: str, config: dict, staff: Staff) -> dict:
    """Replace the program's settings (already validated by its schema) and audit who did it."""
    _known(name)
    row = session.get(ProgramConfig, name)
    if row is None:
        row = ProgramConfig(name=name, config=config, updated_by=staff.id)
        session.add(row)
    else:
        row.config = config
        row.updated_by = staff.id
    audit.record(session, staff, f"program.{name}.update", "program", name, config)
    session.commit()
    forget_cached()
    return get_config(session, name)
