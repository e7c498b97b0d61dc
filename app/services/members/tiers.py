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


def upgrade_if_reached(session: Session, member: Member, now: datetime) -> str:
    """Grant a higher tier as soon as the member's earnings reach it (never downgrades here)."""
    cfg = points_program.config(session)
    ranks = {t["code"]: i for i, t in enumerate(points_program.tiers(cfg))}
    reached = points_program.tier_reached(cfg, earned_last_12_months(session, member.id, now))
    known = member.tier_code in ranks
    if known and ranks[reached["code"]] <= ranks[member.tier_code]:
        return member.tier_code
    session.execute(update(Member).where(Member.id == member.id).values(tier_code=reached["code"]))
    return reached["code"]


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
