"""Benefits: the birthday gifts (daily), the tiers' monthly coupons (on the 1st)."""

from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.services.benefits import birthday_gifts, tier_benefits


def birthday_gifts_job(now: datetime) -> dict:
    return birthday_gifts.give_birthday_gifts(db.session, now)


def tier_benefits_job(now: datetime) -> dict:
    return tier_benefits.give_monthly_coupons(db.session, now)
