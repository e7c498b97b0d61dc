"""Member tiers: reached at once by earning, re-evaluated nightly (down at most one tier, after
the tier's grace days, with a notice the night they start); an upgrade's gift (tier_benefits)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Date, bindparam, case, cast, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app import clock
from app.models import Member
from app.models.base import UTCDateTime
from app.models.points import PointEntry
from app.services.benefits import tier_benefits
from app.services.benefits.birthday_gifts import member_id_ranges
from app.services.benefits.tier_benefits import DOWNGRADE_PURPOSE
from app.services.ledger import points_program
from app.services.messaging import outbox

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
    upgraded = session.execute(
        update(members)
        .where(members.c.id == member_id, reached > current)
        .values(
            tier_code=case({rank: t["code"] for rank, t in enumerate(ordered)}, value=reached),
            tier_below_since=None,
        )
        .returning(members.c.tier_code)
    ).scalar_one_or_none()
    if upgraded is not None:
        tier_benefits.give_upgrade_gifts(session, cfg, [(member_id, upgraded)], now)
    return upgraded


# One range [lo, hi) of member ids, one statement: each member's 12-month earnings against the
# tier table (:tiers, rank order, with each tier's grace days), the move (up to the tier
# reached; down one tier once the current tier's grace days have passed since the day they were
# first found below it, at once when it has none), the day a new grace starts (or NULL when
# they hold their tier), the update (skipping a row a till changed meanwhile), and the
# downgrade notice of each member whose grace starts tonight (through the outbox, once per tier
# and grace: the dedupe key is `<tier>:<first day below>`). Returns the counts and the members
# upgraded, for their gifts.
_EVALUATE = """
WITH tiers AS (
    SELECT * FROM jsonb_to_recordset(CAST(:tiers AS jsonb))
        AS t(rank int, code text, name text, threshold bigint, grace int)
), ranked AS MATERIALIZED (
    SELECT m.id, m.tier_code AS code_now, m.tier_below_since AS since,
           m.closed_at IS NULL AS open,
           COALESCE((SELECT t.rank FROM tiers t WHERE t.code = m.tier_code), 0) AS cur,
           COALESCE((SELECT max(t.rank) FROM tiers t WHERE t.threshold <= e.points), 0)
               AS reached
    FROM members m
    CROSS JOIN LATERAL (
        SELECT COALESCE(sum(pe.delta), 0) AS points FROM point_entries pe
        WHERE pe.member_id = m.id AND pe.reason = ANY(:reasons)
          AND pe.created_at >= :window_start
    ) e
    WHERE m.id >= :lo AND m.id < :hi
), decided AS MATERIALIZED (
    SELECT r.*,
           CASE WHEN r.reached >= r.cur THEN r.reached
                WHEN t.grace <= 0 OR (r.since IS NOT NULL AND :today - r.since >= t.grace)
                    THEN r.cur - 1
                ELSE r.cur END AS new_rank
    FROM ranked r JOIN tiers t ON t.rank = r.cur
), moves AS MATERIALIZED (
    SELECT d.*, t.code AS new_code, t.name AS new_name, t.grace AS new_grace,
           CASE WHEN d.reached >= d.new_rank THEN NULL
                WHEN d.new_rank < d.cur OR d.since IS NULL THEN CAST(:today AS date)
                ELSE d.since END AS new_since
    FROM decided d JOIN tiers t ON t.rank = d.new_rank
), updated AS (
    UPDATE members m SET tier_code = mv.new_code, tier_below_since = mv.new_since
    FROM moves mv
    WHERE m.id = mv.id AND m.tier_code = mv.code_now
      AND (mv.code_now <> mv.new_code OR mv.since IS DISTINCT FROM mv.new_since)
    RETURNING m.id
), noticed AS (
    {notices}
)
SELECT count(*) FILTER (WHERE u.id IS NOT NULL AND mv.code_now <> mv.new_code),
       count(*) FILTER (WHERE u.id IS NOT NULL AND mv.new_rank > mv.cur),
       count(*) FILTER (WHERE u.id IS NOT NULL AND mv.new_rank < mv.cur),
       count(*) FILTER (WHERE mv.new_rank = mv.cur AND mv.reached < mv.cur),
       (SELECT count(*) FROM noticed),
       array_agg(mv.id ORDER BY mv.id) FILTER (WHERE u.id IS NOT NULL AND mv.new_rank > mv.cur),
       array_agg(mv.new_code ORDER BY mv.id)
           FILTER (WHERE u.id IS NOT NULL AND mv.new_rank > mv.cur)
FROM moves mv LEFT JOIN updated u ON u.id = mv.id
"""
_NOTICES = """
SELECT mv.id AS member_id,
       mv.new_code || ':' || to_char(mv.new_since, 'YYYY-MM-DD') AS dedupe_key,
       json_build_object('tier_code', mv.new_code, 'tier_name', mv.new_name,
                         'downgrade_on', to_char(mv.new_since + mv.new_grace, 'YYYY-MM-DD'))
           AS params
FROM moves mv JOIN updated u ON u.id = mv.id
WHERE mv.open AND mv.new_since IS NOT NULL AND mv.since IS DISTINCT FROM mv.new_since
  AND mv.new_grace > 0
"""
EVALUATE = text(
    _EVALUATE.format(notices=outbox.enqueue_from(DOWNGRADE_PURPOSE, _NOTICES, marketing=False))
).bindparams(
    bindparam("lo", type_=BigInteger()),
    bindparam("hi", type_=BigInteger()),
    bindparam("today", type_=Date()),
    bindparam("window_start", type_=UTCDateTime()),
    bindparam("now", type_=UTCDateTime()),
    bindparam("not_before", type_=UTCDateTime()),
    bindparam("reasons", type_=postgresql.ARRAY(postgresql.VARCHAR())),
)
BATCH = 20_000  # member ids per statement and per transaction


def evaluate_all(session: Session, now: datetime, width: int | None = None) -> dict:
    """Nightly: every member to the tier their 12-month earnings reach, up at once, down one
    tier at most a night and only once the tier's grace_days have passed since they were first
    found below it; the downgrade notice the night their grace starts; upgrade gifts.

    Set-based: a range of member ids per statement and transaction (EVALUATE), then per tier
    with a gift the bulk earn and push (tier_benefits), never a statement per member. Counts:
    `changed` tier codes, `upgraded`, `downgraded`, `in_grace` (below their tier, kept),
    `notices` queued, `gift_points` and `gift_coupons` given."""
    cfg = points_program.config(session)
    ordered = points_program.tiers(cfg)
    table = json.dumps(
        [
            {
                "rank": rank,
                "code": t["code"],
                "name": t["name"],
                "threshold": t["threshold"],
                "grace": int(t.get("grace_days") or 0),
            }
            for rank, t in enumerate(ordered)
        ]
    )
    params = {
        "tiers": table,
        "today": clock.business_date(now),
        "window_start": now - WINDOW,
        "reasons": list(points_program.TIER_REASONS),
        "now": now,
        "not_before": outbox.send_time(now, outbox.settings(session)),
    }
    keys = ("changed", "upgraded", "downgraded", "in_grace", "notices")
    counts = dict.fromkeys((*keys, "gift_points", "gift_coupons"), 0)
    for lo, hi in member_id_ranges(session, width or BATCH):
        row = session.execute(EVALUATE, {**params, "lo": lo, "hi": hi}).one()
        for key, value in zip(keys, row[:5], strict=True):
            counts[key] += int(value)
        if row[5]:
            gifts = tier_benefits.give_upgrade_gifts(
                session, cfg, list(zip(row[5], row[6], strict=True)), now
            )
            for key, value in gifts.items():
                counts[key] += value
        session.commit()
    return counts
