"""Member tiers: reached at once by earning, re-evaluated nightly (down at most one tier)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from app.models import Member
from app.models.points import PointEntry
from app.services import points_program

WINDOW = timedelta(days=365)


def earned_last_12_months(session: Session, member_id: int, now: datetime) -> int:
    """Points earned by purchases in the last 12 months, net of refunds."""
    total = session.execute(
        select(func.coalesce(func.sum(PointEntry.delta), 0)).where(
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
    """Nightly: every member to the tier their 12-month earnings reach, but down one at most."""
    cfg = points_program.config(session)
    ordered = points_program.tiers(cfg)
    ranks = {t["code"]: i for i, t in enumerate(ordered)}
    earned = dict(
        session.execute(
            select(PointEntry.member_id, func.sum(PointEntry.delta))
            .where(
                PointEntry.reason.in_(points_program.TIER_REASONS),
                PointEntry.created_at >= now - WINDOW,
            )
            .group_by(PointEntry.member_id)
        ).all()
    )
    changes: dict[int, str] = {}
    upgraded = downgraded = 0
    for member_id, tier_code in session.execute(select(Member.id, Member.tier_code)):
        current = ranks.get(tier_code, 0)
        target = ranks[points_program.tier_reached(cfg, int(earned.get(member_id, 0)))["code"]]
        new = target if target >= current else current - 1
        if ordered[new]["code"] != tier_code:
            changes[member_id] = ordered[new]["code"]
            upgraded += new > current
            downgraded += new < current
    if changes:
        session.execute(
            update(Member.__table__)
            .where(Member.__table__.c.id == bindparam("mid"))
            .values(tier_code=bindparam("code")),
            [{"mid": m, "code": c} for m, c in changes.items()],
        )
    session.commit()
    return {"changed": len(changes), "upgraded": upgraded, "downgraded": downgraded}
