"""Small periodic chores."""

from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.idempotency import purge_expired_keys


def purge_idempotency_keys(now: datetime) -> dict:
    return {"deleted": purge_expired_keys(db.session, now)}


def tick(now: datetime) -> dict:
    return {"ticks": 1}
