"""Member tiers: reached at once by earning, re-evaluated nightly (down at most one tier)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import BigInteger, case, cast, func, select, update
from sqlalchemy.orm import Session

from app.models import Member
from app.models.points import PointEntry
from app.services.ledger import points_program

WINDOW = timedelta(days=365)


def earned_last_12_months(session: Session, member_id: int, now: datetime) -> int:
    """Points earned by purchases in the last 12 months, net of refunds."""
    total = session.execute(
        select(cast(func.coalesce(func.sum(PointEntry.delta), 0), BigInteger)).where(
            PointEntry.member_id == member_id,
            PointEntry.reason.in_(points_program.TIER_REASONS),
            PointEntry.created_at >= now - WINDOW,
        )
    ).scalar_one()
    return int(total)


def upgrade_if_reached(session: Session, member_id: int, now: datetime) -> str | None:
    """Grant a higher tier as soon as the member's earnings reach it (never downgrades here);
    the new tier's code, or None when it stays. One statement: the 12-month sum and the tier
    table as CASE expressions (as in evaluate_all), decided on the member's row as it is now.
    Run it after the earning, under the member's row lock that the ledger took: the sum then
    sees every entry of theirs, ours included."""
    cfg = points_program.config(session)
    ordered = points_program.tiers(cfg)
    members = Member.__table__
    # In the UPDATE's FROM: summed once, not once per CASE branch.
    earned = (
        select(cast(func.coalesce(func.sum(PointEntry.delta), 0), BigInteger).label("points"))
        .where(
            PointEntry.member_id == member_id,
            PointEntry.reason.in_(points_program.TIER_REASONS),
            PointEntry.created_at >= now - WINDOW,
        )
        .subquery()
    )
    # An unknown or empty tier code is below every tier: it becomes the tier reached.
    current = case(
        {t["code"]: rank for rank, t in enumerate(ordered)}, value=members.c.tier_code, else_=-1
    )
    reached = case(
        *[
            (earned.c.points >= t["threshold"], rank)
            for rank, t in reversed(list(enumerate(ordered)))
        ],
        else_=0,
    )
    return session.execute(
        update(members)
        .where(members.c.id == member_id, reached > current)
        .values(tier_code=case({rank: t["code"] for rank, t in enumerate(ordered)}, value=reached))
        .returning(members.c.tier_code)
    ).scalar_one_or_none()


def evaluate_all(session: Session, now: datetime) -> dict:
    """Nightly: every member to the tier their 12-month earnings reach, but down one at most.

    One set-based UPDATE: the tier table becomes CASE expressions (current rank, reached rank,
    new rank), so a million members are re-evaluated in the database, not in Python.
    """
    cfg = points_program.config(session)
    ordered = points_program.tiers(cfg)
    members = Member.__table__
    earned = (
        select(cast(func.coalesce(func.sum(PointEntry.delta), 0), BigInteger))
        .where(
            PointEntry.member_id == members.c.id,
            PointEntry.reason.in_(points_program.TIER_REASONS),
            PointEntry.created_at >= now - WINDOW,
        )
        .scalar_subquery()
    )
    # Unknown or empty tier codes count as the lowest tier.
    current = case(
        {t["code"]: rank for rank, t in enumerate(ordered)}, value=members.c.tier_code, else_=0
    )
    reached = case(
        *[(earned >= t["threshold"], rank) for rank, t in reversed(list(enumerate(ordered)))],
        else_=0,
    )
    ranked = select(
        members.c.id.label("mid"),
        func.coalesce(members.c.tier_code, "").label("code_now"),
        current.label("cur"),
        reached.label("reached"),
    ).subquery()
    new_rank = case((ranked.c.reached >= ranked.c.cur, ranked.c.reached), else_=ranked.c.cur - 1)
    new_code = case({rank: t["code"] for rank, t in enumerate(ordered)}, value=new_rank)
    moves = (
        select(ranked.c.mid, new_code.label("code"), (new_rank - ranked.c.cur).label("step"))
        .where(ranked.c.code_now != new_code)
        .subquery()
    )
    counts = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((moves.c.step > 0, 1), else_=0)), 0),
            func.coalesce(func.sum(case((moves.c.step < 0, 1), else_=0)), 0),
        )
    ).one()
    session.execute(
        update(members)
        .where(members.c.id == moves.c.mid, members.c.tier_code != moves.c.code)
        .values(tier_code=moves.c.code)
    )
    session.commit()
    return {"changed": int(counts[0]), "upgraded": int(counts[1]), "downgraded": int(counts[2])}
