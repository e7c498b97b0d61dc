"""The clock: now() in UTC and business dates in BUSINESS_TZ.

Tests and the sandbox move time here. In SANDBOX mode the offset lives in Redis so that every
process of the deployment (API workers, the scheduler, a `jobs run-once` from another shell)
shares one test clock. A request (or a job run, a CLI command: any app context) reads the offset
once, at its first use, and keeps it: one Redis GET per request, none for a request that never
asks the time, and a PUT /_sandbox/clock that has answered is seen by the very next request to
any worker (a time-based cache would serve the old day for a while). One offset per request
also means a request never straddles a clock change. Without SANDBOX the clock costs no Redis.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_app_context

from app.extensions import get_redis, rkey

_override: datetime | None = None  # tests: a frozen instant for this process
_G_OFFSET = "_sandbox_clock_offset"  # flask.g: this app context's offset, once read
DEFAULT_TZ = "Asia/Shanghai"


def init_app(app: Flask) -> None:
    """SANDBOX: forget the offset at the start of each request, before any other hook.

    Flask gives each request its own app context (and `g`), except when one is already pushed,
    as in tests that call the test client inside an app context: there the requests share `g`.
    """
    if app.config.get("SANDBOX"):
        app.before_request_funcs.setdefault(None, []).insert(0, _forget_offset)


def _forget_offset() -> None:
    g.pop(_G_OFFSET, None)


def _real_now() -> datetime:
    return datetime.now(UTC)


def sandbox_offset_key() -> str:
    """The Redis key of the deployment's test-clock offset."""
    return rkey("sandbox", "clock_offset")


def read_sandbox_offset(redis_client, key: str) -> float:
    """The deployment's test-clock offset in seconds, read now (no cache)."""
    raw = redis_client.get(key)
    return float(raw) if raw else 0.0


def sandbox_offset() -> float:
    """This app context's test-clock offset in seconds (read from Redis once per context)."""
    offset = g.get(_G_OFFSET)
    if offset is None:
        offset = read_sandbox_offset(get_redis(), sandbox_offset_key())
        setattr(g, _G_OFFSET, offset)
    return offset


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    if _override is not None:
        return _override
    current = _real_now()
    if has_app_context() and current_app.config.get("SANDBOX"):
        offset = sandbox_offset()
        if offset:
            current = current + timedelta(seconds=offset)
    return current


def freeze(instant: datetime | None) -> None:
    """Tests: pin now() to `instant` in this process (None returns to real time)."""
    global _override
    if instant is not None and instant.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _override = instant.astimezone(UTC) if instant else None


def set_sandbox_now(instant: datetime | None) -> None:
    """SANDBOX: set (or with None, clear) the deployment-wide test clock; it then runs on."""
    key = sandbox_offset_key()
    if instant is None:
        get_redis().delete(key)
        offset = 0.0
    else:
        offset = (instant - _real_now()).total_seconds()
        get_redis().set(key, repr(offset))
    setattr(g, _G_OFFSET, offset)


def business_tz() -> ZoneInfo:
    name = current_app.config.get("BUSINESS_TZ", DEFAULT_TZ) if has_app_context() else DEFAULT_TZ
    return ZoneInfo(name)


def business_date(instant: datetime) -> date:
    """The business day an instant falls on."""
    return instant.astimezone(business_tz()).date()


def business_today() -> date:
    return business_date(now())


def business_day_start(day: date) -> datetime:
    """The UTC instant at which business day `day` begins."""
    return datetime(day.year, day.month, day.day, tzinfo=business_tz()).astimezone(UTC)


def business_day_end(day: date) -> datetime:
    """The UTC instant at which business day `day` ends (exclusive)."""
    return business_day_start(day + timedelta(days=1))
