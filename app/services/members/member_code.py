"""The rotating member code shown at the till.

A code is 18 digits: the prefix "66" and 16 digits of HMAC(secret, member, 30-second step). It
is the same for the whole step (so the mini-program can redraw it) and accepted until 90 seconds
after its step began, so never more than 90 seconds after it was first shown. Redis maps a code to
its member for a day: long enough to tell a stale code (410) from garbage (404). Without the
secret nobody can compute a member's code, and the 10^16 space cannot be enumerated.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.errors import AppError
from app.extensions import get_redis, rkey

STEP_SECONDS = 30
ACCEPT_SECONDS = 90
PREFIX = "66"
REMEMBER_SECONDS = 24 * 3600


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


def current_code(secret: str, member_id: int, now: datetime) -> MemberCode:
    """The member's code for the current 30-second step, registered for scanning."""
    step = int(now.timestamp()) // STEP_SECONDS
    value = f"{member_id}:{step}"
    client = get_redis()
    for attempt in range(4):
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
