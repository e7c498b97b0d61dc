"""The nightly expiry of points: set-based, in batches of members, safe to run twice or resume."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from app.models import Member
from app.models.base import insert_ignore
from app.models.points import PointEntry, PointLot

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
        select(Member.id).where(Member.id.in_(ids)).order_by(Member.id).with_for_update()
    )
    lots = session.execute(
        select(PointLot.id, PointLot.member_id, PointLot.remaining)
        .where(
            PointLot.member_id.in_(ids),
            PointLot.remaining > 0,
            PointLot.expires_on < today,
        )
        .with_for_update()
    ).all()
    per_member: dict[int, int] = defaultdict(int)
    for lot in lots:
        per_member[lot.member_id] += lot.remaining
    if not per_member:
        return 0, 0
    stamp = today.isoformat()
    insert_ignore(
        session,
        PointEntry,
        [
            {
                "member_id": member_id,
                "delta": -total,
                "reason": "expiry",
                "ref": f"expiry:{member_id}:{stamp}",
                "balance_after": 0,
                "created_at": now,
                "note": "",
            }
            for member_id, total in per_member.items()
        ],
        "ref",
    )
    session.execute(
        update(PointLot)
        .where(PointLot.id.in_([lot.id for lot in lots]))
        .values(remaining=0)
        .execution_options(synchronize_session=False)
    )
    params = [{"mid": m, "amount": t} for m, t in per_member.items()]
    session.execute(
        update(Member.__table__)
        .where(Member.__table__.c.id == bindparam("mid"))
        .values(points_balance=Member.__table__.c.points_balance - bindparam("amount")),
        params,
    )
    balances = dict(
        session.execute(
            select(Member.id, Member.points_balance).where(Member.id.in_(list(per_member)))
        ).all()
    )
    session.execute(
        update(PointEntry.__table__)
        .where(PointEntry.__table__.c.ref == bindparam("entry_ref"))
        .values(balance_after=bindparam("balance")),
        [{"entry_ref": f"expiry:{m}:{stamp}", "balance": balances[m]} for m in per_member],
    )
    return len(per_member), sum(per_member.values())
