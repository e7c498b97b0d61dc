"""The per-member cap on marketing messages: at most one every `marketing_cap_days` days."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.models.messaging import MarketingStamp, OutboxMessage

_S = MarketingStamp.__table__


def take(session: Session, member_id: int, now: datetime, cfg: dict) -> bool:
    """Stamp the member as messaged now unless they had marketing within the cap's days.

    One upsert decides (the stamp moves only if the last one is old enough), so two dispatchers
    sending two campaigns to the same member at once send one.
    """
    cutoff = now - timedelta(days=float(cfg["marketing_cap_days"]))
    stmt = insert(_S).values(member_id=member_id, last_sent_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[_S.c.member_id],
        set_={"last_sent_at": now},
        where=or_(_S.c.last_sent_at.is_(None), _S.c.last_sent_at <= cutoff),
    )
    return session.execute(stmt.returning(_S.c.member_id)).first() is not None


def give_back(session: Session, member_id: int) -> None:
    """The message was not sent after all: the member's last sent marketing message counts."""
    last_sent = (
        select(func.max(OutboxMessage.sent_at))
        .where(
            OutboxMessage.member_id == member_id,
            OutboxMessage.marketing.is_(True),
            OutboxMessage.state == "sent",
        )
        .scalar_subquery()
    )
    session.execute(
        update(MarketingStamp)
        .where(MarketingStamp.member_id == member_id)
        .values(last_sent_at=last_sent)
    )


# Text, with an array: one cached statement whatever the number of members.
_TAKE_MANY = text(
    """
    INSERT INTO marketing_stamps (member_id, last_sent_at)
    SELECT m, :now FROM unnest(CAST(:members AS bigint[])) AS m
    ON CONFLICT (member_id) DO UPDATE SET last_sent_at = :now
    WHERE marketing_stamps.last_sent_at IS NULL OR marketing_stamps.last_sent_at <= :cutoff
    RETURNING member_id
    """
)


def take_many(session: Session, member_ids: list[int], now: datetime, cfg: dict) -> set[int]:
    """`take` for several distinct members in one upsert; the members it stamped."""
    if not member_ids:
        return set()
    cutoff = now - timedelta(days=float(cfg["marketing_cap_days"]))
    stamped = session.execute(
        _TAKE_MANY, {"members": list(member_ids), "now": now, "cutoff": cutoff}
    ).scalars()
    return set(stamped)
