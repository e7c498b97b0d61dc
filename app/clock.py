"""The clock: now() in UTC and business dates in BUSINESS_TZ.

Tests and the sandbox move time here. In SANDBOX mode the offset lives in Redis so that every
process of the deployment (API workers, the scheduler) shares the same test clock.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from app.extensions import get_redis, rkey

_override: datetime | None = None  # tests: a frozen instant for this process
_cache: tuple[float, float] = (0.0, 0.0)  # (fetched_at monotonic, offset seconds)
_CACHE_SECONDS = 0.5
DEFAULT_TZ = "Asia/Shanghai"


def _real_now() -> datetime:
    return datetime.now(UTC)


def _sandbox_offset() -> float:
    global _cache
    fetched_at, offset = _cache
    if time.monotonic() - fetched_at < _CACHE_SECONDS:
        return offset

    raw = get_redis().get(rkey("sandbox", "clock_offset"))
    offset = float(raw) if raw else 0.0
    _cache = (time.monotonic(), offset)
    return offset


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    if _override is not None:
        return _override
    current = _real_now()
    if has_app_context() and current_app.config.get("SANDBOX"):
        offset = _sandbox_offset()
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
    """SANDBOX: set (or with None, clear) the deployment-wide test clock."""
    global _cache

    key = rkey("sandbox", "clock_offset")
    if instant is None:
        get_redis().delete(key)
    else:
        get_redis().set(key, (instant - _real_now()).total_seconds())
    _cache = (0.0, 0.0)


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
