"""The rotating member code shown at the till.

A code is 18 digits: the prefix "66" and 16 digits of HMAC(secret, member, 30-second step). It
is the same for the whole step (so the mini-program can redraw it) and accepted until 90 seconds
after its step began, so never more than 90 seconds after it was first shown. Once scanned, a code
is done: the member is shown the next code of the step at once (a shopper paying twice at one till
does not wait for the step to end). The scans table still refuses a used code a second time; the
count of used codes per member and step lives in Redis only to pick the next one. Redis maps a
code to its member for a day: long enough to tell a stale code (410) from garbage (404). Without the
secret nobody can compute a member's code, and the 10^16 space cannot be enumerated.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError

from app.errors import AppError
from app.extensions import get_redis, rkey

log = logging.getLogger("huiyuan.member_code")
STEP_SECONDS = 30
ACCEPT_SECONDS = 90
PREFIX = "66"
REMEMBER_SECONDS = 24 * 3600
ATTEMPTS = 4  # derivations per code, for the (practically impossible) collisions in a step


@dataclass(frozen=True)
class MemberCode:
    code: str
    step: int
    expires_at: datetime
    refresh_after: int


def _step_start(step: int) -> datetime:
    return datetime.fromtimestamp(step * STEP_SECONDS, UTC)


def _derive(secret: str, member_id: int, step: int, attempt: int) -> str:
    message = f"member-code:{member_id}:{step}:{attempt}".encode()
    number = int.from_bytes(hmac.new(secret.encode(), message, hashlib.sha256).digest()[:8], "big")
    return PREFIX + f"{number % 10**16:016d}"


def _used_key(member_id: int, step: int) -> str:
    return rkey("mcode_used", member_id, step)


def current_code(secret: str, member_id: int, now: datetime) -> MemberCode:
    """The member's code for the current 30-second step, registered for scanning; a fresh one
    as soon as the step's code was scanned."""
    step = int(now.timestamp()) // STEP_SECONDS
    value = f"{member_id}:{step}"
    client = get_redis()
    used = int(client.get(_used_key(member_id, step)) or 0)
    for attempt in range(used * ATTEMPTS, (used + 1) * ATTEMPTS):
        code = _derive(secret, member_id, step, attempt)
        key = rkey("mcode", code)
        # NX: two members whose codes collide in a step never overwrite each other.
        if client.set(key, value, nx=True, ex=REMEMBER_SECONDS) or client.get(key) == value:
            break
    else:  # pragma: no cover - four collisions in one step are practically impossible
        raise AppError("member_code.unavailable")
    next_step = _step_start(step + 1)
    return MemberCode(
        code=code,
        step=step,
        expires_at=_step_start(step) + timedelta(seconds=ACCEPT_SECONDS),
        refresh_after=max(1, int((next_step - now).total_seconds() + 0.999)),
    )


def code_used(member_id: int, step: int) -> None:
    """A code of this member and step was scanned: the member is shown the step's next code."""
    key = _used_key(member_id, step)
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, ACCEPT_SECONDS + STEP_SECONDS)
        pipe.execute()
    except RedisError as exc:
        # The scan has committed: it stands. The member is shown the used code (409 at the till)
        # until the step ends, as before this count existed.
        log.warning("used member code not counted: %s", type(exc).__name__)


def resolve_code(code: str, now: datetime) -> tuple[int, int]:
    """(member_id, step) of a scanned code: 404 for garbage, 410 once it is too old."""
    if len(code) != 18 or not code.isdigit() or not code.startswith(PREFIX):
        raise AppError("member_code.unknown")
    raw = get_redis().get(rkey("mcode", code))
    if raw is None:
        raise AppError("member_code.unknown")
    member_id, step = (int(part) for part in raw.split(":"))
    if now > _step_start(step) + timedelta(seconds=ACCEPT_SECONDS):
        raise AppError(
            "member_code.expired", message="This member code has expired; ask for a fresh one."
        )
    return member_id, step
