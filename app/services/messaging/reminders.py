"""The daily messages: points about to expire, and wake-ups for members who went to sleep.

Both are set-based: one INSERT ... SELECT into the outbox per range of member ids (and, for
wake-ups, one bulk coupon push per range), each range its own commit, so memory stays flat
however many members there are and a crash loses at most the range in progress (the next run
queues it: the outbox's unique key ignores what is already queued).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from app import clock
from app.services.coupons import coupon_push
from app.services.messaging import outbox

BATCH = 20_000  # member ids a statement covers (a range, so empty ranges cost an index probe)


def _id_ranges(session: Session, table: str):
    """[lo, hi) ranges of BATCH member ids covering every id in `table`."""
    lo, hi = session.execute(text(f"SELECT min(member_id), max(member_id) FROM {table}")).one()
    session.commit()
    if lo is None:
        return
    for start in range(lo, hi + 1, BATCH):
        yield start, start + BATCH


# The soonest expiry date within the horizon, per member, and the points expiring on it.
_SOONEST = """
SELECT DISTINCT ON (member_id) member_id, to_char(expires_on, 'YYYY-MM-DD') AS dedupe_key,
       json_build_object('expiring_points', points,
                         'expires_on', to_char(expires_on, 'YYYY-MM-DD')) AS params
FROM (
    SELECT member_id, expires_on, CAST(sum(remaining) AS bigint) AS points
    FROM point_lots
    WHERE remaining > 0 AND expires_on >= :today AND expires_on <= :horizon
      AND member_id >= :lo AND member_id < :hi
    GROUP BY member_id, expires_on
) per_day
WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.id = member_id AND m.closed_at IS NOT NULL)
ORDER BY member_id, expires_on
"""


def points_expiry_reminder(session: Session, now: datetime) -> dict:
    """Tell each member whose points expire within N days, once per member per expiry date.

    The message names the soonest date and the points expiring on it; queued now, sent from the
    morning if it is quiet hours.
    """
    cfg = outbox.settings(session)
    today = clock.business_date(now)
    horizon = today + timedelta(days=int(cfg["expiry_reminder_days"]))
    queue = outbox.enqueue_from("points_expiry", "SELECT * FROM soon", marketing=False)
    statement = text(
        f"WITH soon AS ({_SOONEST}), queued AS ({queue})"
        " SELECT (SELECT count(*) FROM soon), (SELECT count(*) FROM queued)"
    )
    members = queued = 0
    for lo, hi in _id_ranges(session, "point_lots"):
        found, new = session.execute(
            statement,
            {
                "today": today,
                "horizon": horizon,
                "lo": lo,
                "hi": hi,
                "now": now,
                "not_before": outbox.send_time(now, cfg),
            },
        ).one()
        session.commit()
        members, queued = members + found, queued + new
    return {"members": members, "queued": queued}


# Members asleep as the last nightly lifecycle refresh (member_segments) found them, not woken
# within the last N days; keyed by the day they entered the stage (once per sleeping spell).
_ASLEEP = """
SELECT s.member_id, to_char(s.stage_since, 'YYYY-MM-DD') AS dedupe_key, CAST(NULL AS json) AS params
FROM member_segments s
WHERE s.lifecycle_stage = 'sleeping' AND s.member_id >= :lo AND s.member_id < :hi
  AND NOT EXISTS (SELECT 1 FROM members m WHERE m.id = s.member_id AND m.closed_at IS NOT NULL)
  AND NOT EXISTS (
      SELECT 1 FROM message_outbox o
      WHERE o.member_id = s.member_id AND o.purpose = 'dormant_wakeup' AND o.created_at >= :since)
"""


def dormant_wakeup(session: Session, now: datetime) -> dict:
    """Wake members who entered the sleeping stage: once per entry, at most once per 30 days.

    With a wake-up coupon configured, the coupons are given in the same transaction as the
    messages are queued (once per member and sleeping spell), in one bulk push per batch.
    """
    cfg = outbox.settings(session)
    since = now - timedelta(days=int(cfg["wakeup_every_days"]))
    coupon_template = cfg.get("wakeup_coupon_template_id")
    queue = outbox.enqueue_from("dormant_wakeup", "SELECT * FROM asleep", marketing=True)
    statement = text(
        f"WITH asleep AS ({_ASLEEP}), queued AS ({queue})"
        " SELECT (SELECT count(*) FROM asleep),"
        " (SELECT array_agg(member_id ORDER BY member_id) FROM queued),"
        " (SELECT array_agg('wakeup:' || member_id || ':' || dedupe_key ORDER BY member_id)"
        "  FROM queued)"
    )
    send_at = outbox.send_time(now, cfg)
    sleeping = queued = coupons = 0
    for lo, hi in _id_ranges(session, "member_segments"):
        found, member_ids, refs = session.execute(
            statement,
            {
                "lo": lo,
                "hi": hi,
                "since": since,
                "now": now,
                "not_before": send_at,
            },
        ).one()
        sleeping += found
        queued += len(member_ids or ())
        if coupon_template and member_ids:
            coupons += coupon_push.push_coupons(
                session, int(coupon_template), member_ids, refs, source="wakeup", now=now
            )
        session.commit()
    return {"sleeping": sleeping, "queued": queued, "coupons": coupons}
