"""Daily benefits: the birthday gifts."""

from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.services.benefits import birthday_gifts


def birthday_gifts_job(now: datetime) -> dict:
    return birthday_gifts.give_birthday_gifts(db.session, now)
