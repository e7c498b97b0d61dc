"""The nightly expiry of points: set-based, in batches of members, safe to run twice or resume."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Member
from app.models.points import PointLot
from app.services import ledger

BATCH = 1000


def expire_due_lots(session: Session, today: date, now: datetime, batch: int = BATCH) -> dict:
    """Expire every lot whose last day was before `today`; one ledger entry per member.

    Each batch is one transaction (members locked in id order, then their lots), and each
    member's entry has the unique ref `expiry:<member>:<today>`: a crash loses at most the batch
    in flight, and running again finds only what is still due.
    """
    members = points = 0
    after = 0
    while True:
        ids = (
            session.execute(
                select(PointLot.member_id)
                .where(
                    PointLot.remaining > 0,
                    PointLot.expires_on < today,
                    PointLot.member_id > after,
                )
                .group_by(PointLot.member_id)
                .order_by(PointLot.member_id)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not ids:
            break
        done_members, done_points = _expire_batch(session, ids, today, now)
        session.commit()
        members += done_members
        points += done_points
        after = ids[-1]
    return {"members": members, "points": points}


def _expire_batch(session: Session, ids: list[int], today: date, now: datetime) -> tuple[int, int]:
    session.execute(
        select(Member.id)
        .where(Member.id.in_(ids))
        .order_by(Member.id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE, as ledger.lock_member
    )
    expired = ledger.expire_members(session, ids, today, now)
    return len(expired), sum(expired.values())
