"""Nightly points jobs: expire due lots, re-evaluate tiers."""

from __future__ import annotations

from datetime import datetime

from app import clock
from app.extensions import db
from app.services.ledger import points_expiry
from app.services.members import tiers


def points_expiry_job(now: datetime) -> dict:
    return points_expiry.expire_due_lots(db.session, clock.business_date(now), now)


def tiers_evaluate_job(now: datetime) -> dict:
    return tiers.evaluate_all(db.session, now)
