"""Benefits: the birthday gifts (daily), the tiers' monthly coupons (on the 1st), the paid
membership's orders, coupons and reminders."""

from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.services.benefits import birthday_gifts, tier_benefits
from app.services.membership import membership_jobs


def birthday_gifts_job(now: datetime) -> dict:
    return birthday_gifts.give_birthday_gifts(db.session, now)


def tier_benefits_job(now: datetime) -> dict:
    return tier_benefits.give_monthly_coupons(db.session, now)


def membership_orders_settle_job(now: datetime) -> dict:
    return membership_jobs.settle_orders(db.session, now)


def membership_benefits_job(now: datetime) -> dict:
    return membership_jobs.membership_benefits(db.session, now)
