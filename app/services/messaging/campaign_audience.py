"""Which members a campaign's audience filter selects: the one audience filter (audiences)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.errors import AppError
from app.services.messaging import audiences


def validate(session: Session, audience: dict) -> dict:
    """The filter as stored: checked now (422; its tiers must be the program's), kept as JSON
    (dates as ISO strings)."""
    try:
        audiences.check_tiers(session, audiences.load_filter(audience))
    except AppError as exc:
        raise AppError(exc.code, exc.status, exc.message, {"audience": exc.details}) from exc
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in audience.items()}


def member_ids_query(session: Session, audience: dict) -> Select:
    """SELECT of the ids of the members the filter selects (set-based, for INSERT ... SELECT)."""
    lowest = audiences.lowest_tier_code(session)
    return audiences.member_ids_query(audience or {}, lowest_tier_code=lowest)


def count(session: Session, audience: dict) -> int:
    return audiences.count(session, audience or {})
