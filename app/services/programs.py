"""Program settings (points, checkin, referral, ...): defaults in code, overrides in the database.

Each program module registers its defaults with `register_defaults(name, dict)` at import time;
`get_config` returns the stored settings merged over those defaults.
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
    _DEFAULTS[name] = defaults


def get_config(session: Session, name: str) -> dict:
    """The program's settings: what marketing saved, over the built-in defaults."""
    key = (str(session.get_bind().url), name)
    cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return pickle.loads(cached[1])
    merged = copy.deepcopy(_DEFAULTS.get(name, {}))
    row = session.get(ProgramConfig, name)
    if row is not None:
        merged.update(copy.deepcopy(row.config))
    with _cache_lock:
        _cache[key] = (time.monotonic(), pickle.dumps(merged, pickle.HIGHEST_PROTOCOL))
    return merged


def forget_cached() -> None:
    """Drop every cached setting (after a change, and between tests)."""
    with _cache_lock:
        _cache.clear()


def put_config(session: Session, name: str, config: dict, staff: Staff) -> dict:
    """Replace the program's settings (already validated by its schema) and audit who did it."""
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
