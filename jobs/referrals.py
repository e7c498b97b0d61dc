"""Daily referral settlement: pay rewards whose refund window has passed."""

from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.services.referrals import referral_rewards


def referral_settlement_job(now: datetime) -> dict:
    return referral_rewards.settle_due(db.session, now)
