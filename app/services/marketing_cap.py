"""The per-member cap on marketing messages: at most one every `marketing_cap_days` days."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.models.base import insert_ignore
from app.models.messaging import MarketingStamp


def take(
    session: Session, member_id: int, now: datetime, cfg: dict
) -> tuple[bool, datetime | None]:
    """Stamp the member as messaged now unless they had marketing within the cap's days.

    One conditional UPDATE decides, so two dispatchers sending two campaigns to the same member
    at once send one. Returns (taken, the previous stamp to restore if the message is not sent).
    """
    insert_ignore(session, MarketingStamp, {"member_id": member_id, "last_sent_at": None})
    previous = session.execute(
        select(MarketingStamp.last_sent_at)
        .where(MarketingStamp.member_id == member_id)
        .with_for_update()
    ).scalar_one()
    window = timedelta(days=float(cfg["marketing_cap_days"]))
    taken = session.execute(
        update(MarketingStamp)
        .where(
            MarketingStamp.member_id == member_id,
            or_(MarketingStamp.last_sent_at.is_(None), MarketingStamp.last_sent_at <= now - window),
        )
        .values(last_sent_at=now)
        .returning(MarketingStamp.member_id)
    ).first()
    return taken is not None, previous


def give_back(session: Session, member_id: int, previous: datetime | None) -> None:
    """The message was not sent after all: the member's previous stamp counts again."""
    session.execute(
        update(MarketingStamp)
        .where(MarketingStamp.member_id == member_id)
        .values(last_sent_at=previous)
    )
