"""Nightly segments refresh: RFM, lifecycle stages and the odds of each member still buying."""

from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.services import segments


def segments_refresh_job(now: datetime) -> dict:
    return segments.refresh(db.session, now)
