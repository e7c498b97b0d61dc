"""Per-member purchase summaries (member_purchase_summaries), kept between nights and brought
forward by each refresh: window figures, and the whole history's orders, first, second and last
business day and distinct days (what the segments report and the repurchase figures read instead
of the purchases).

Purchases count when paid at or before `now` and not fully refunded; money is net of refunds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from app import clock
from app.models.segments import SegmentState
from app.services.segments.sql import timed

SUMMARY_COLUMNS = (
    "member_id, frequency, monetary_fen, last_paid_at, first_day, last_day, n_days, orders,"
    " second_day"
)
INSERT = f"INSERT INTO member_purchase_summaries ({SUMMARY_COLUMNS}) "


def summary_select(members: str | None = None, purchases: str = "purchases") -> str:
    """SELECT of the per-member summary columns (as in member_purchase_summaries) as of :now,
    window figures from :window_start; only for the members in the table `members` if given;
    from the table `purchases` (or one with its member_id, paid_at, amount_fen, refunded_fen).

    Two aggregations (per member and day, then per member), in bigint: a SUM over the bigint
    money columns is numeric, slower to add up again. The day is the expression of the
    index ix_purchases_member_business_day (the zone written out, as in the index), so both read
    the index in order -- for a few members, by member through it; were it missing, a sort does
    it (never a hash: with a group for nearly every purchase the hash table spills to disk,
    measured slower). The second day is the day ranked 2 within the member, by a window over the
    per-day rows in the order they are grouped in (no sort of its own)."""
    zone = clock.business_tz().key.replace("'", "")
    day = f"timezone('{zone}', paid_at)::date"
    only = f"AND member_id IN (SELECT member_id FROM {members})" if members else ""
    return f"""
        SELECT member_id, CAST(SUM(frequency) AS BIGINT) AS frequency,
               CAST(SUM(monetary_fen) AS BIGINT) AS monetary_fen,
               MAX(last_paid_at) AS last_paid_at, MIN(day) - DATE '2000-01-01' AS first_day,
               MAX(day) - DATE '2000-01-01' AS last_day, COUNT(*) AS n_days,
               CAST(SUM(orders) AS BIGINT) AS orders,
               MIN(day) FILTER (WHERE n = 2) - DATE '2000-01-01' AS second_day
        FROM (SELECT member_id, {day} AS day, COUNT(*) AS orders,
                     row_number() OVER (PARTITION BY member_id ORDER BY {day}) AS n,
                     SUM(CASE WHEN paid_at >= :window_start THEN 1 ELSE 0 END) AS frequency,
                     CAST(SUM(CASE WHEN paid_at >= :window_start THEN amount_fen - refunded_fen
                                   ELSE 0 END) AS BIGINT) AS monetary_fen,
                     MAX(paid_at) AS last_paid_at
              FROM {purchases}
              WHERE paid_at <= :now AND (refunded_fen < amount_fen OR amount_fen = 0) {only}
              GROUP BY 1, 2) per_day
        GROUP BY member_id
        """


def run_summary(session: Session, sql: str, now: datetime, window_start: datetime, sort=True):
    """Run a statement made with summary_select. `sort`: group by sorting (or by reading the
    index in order), for the many groups of many members' whole histories."""
    if sort:
        session.execute(text("SET LOCAL enable_hashagg = off"))
    times = {"now": now, "window_start": window_start}
    result = session.execute(timed(sql, *times), times)
    if sort:
        session.execute(text("SET LOCAL enable_hashagg = on"))
    return result


def update_summaries(session: Session, now: datetime, window_start: datetime, full: bool) -> dict:
    """Bring member_purchase_summaries to `now`: every member's from the purchases when `full` or
    when they are not simply last night's moved forward (first run, time moved back, a longer
    window, another business zone). Otherwise, per member:

    - only new sales since (changes that are all purchases inserted with a payment time after the
      last refresh): what they bought since added to the summary;
    - any other change to their purchases (refund, backdated or deleted purchase), or a first
      purchase: recomputed from their purchases;
    - purchases only left the window: those subtracted from the window's figures.

    The changes taken into account are the ones visible when this starts (seg_seen), and only
    those are deleted at the end: a change committed meanwhile waits for the next night (the
    member is then left as it is, or recomputed, never brought forward by half).
    """
    state = session.get(SegmentState, 1)
    zone = clock.business_tz().key
    full = (
        full
        or state is None
        or now < state.as_of
        or window_start < state.window_start
        or state.business_tz != zone
    )
    temporary = ("seg_seen", "seg_sales", "seg_merge", "seg_dirty")
    for table in temporary:
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))
    session.execute(
        text(
            "CREATE TEMPORARY TABLE seg_seen AS SELECT id, member_id, paid_from"
            " FROM segment_changes"
        )
    )
    session.execute(text("ANALYZE seg_seen"))
    counts = {"full": full, "recomputed": None, "merged": 0, "moved": 0}
    if full:
        session.execute(text("TRUNCATE member_purchase_summaries"))
        run_summary(session, INSERT + summary_select(), now, window_start)
    else:
        counts.update(_bring_forward(session, state, now, window_start))
    session.execute(text("DELETE FROM segment_changes WHERE id IN (SELECT id FROM seg_seen)"))
    if state is None:
        state = SegmentState(id=1)
        session.add(state)
    state.as_of, state.window_start, state.business_tz = now, window_start, zone
    session.flush()
    if full:
        session.execute(text("ANALYZE member_purchase_summaries"))
    for table in temporary:
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))
    return counts


def _bring_forward(
    session: Session, state: SegmentState, now: datetime, window_start: datetime
) -> dict:
    """Last night's summaries (as of state.as_of) brought to `now`, member by member as
    update_summaries says; the changes to take into account are in seg_seen. Returns how many
    summaries had new sales merged, lost purchases to the window, or were recomputed."""
    as_of = {"as_of": state.as_of}
    # The sales since the last refresh, by ix_purchases_paid_at (a table of their own, with
    # statistics: those of purchases never know today's sales, and plans made on them are
    # seconds slower).
    session.execute(
        timed(
            "CREATE TEMPORARY TABLE seg_sales AS"
            " SELECT member_id, paid_at, amount_fen, refunded_fen FROM purchases"
            " WHERE paid_at > :as_of AND paid_at <= :now",
            "as_of",
            "now",
        ),
        {**as_of, "now": now},
    )
    session.execute(
        timed(
            "CREATE TEMPORARY TABLE seg_merge AS SELECT member_id FROM seg_seen c"
            " GROUP BY member_id"
            " HAVING COUNT(*) = COUNT(paid_from) AND MIN(paid_from) > :as_of"
            " AND EXISTS (SELECT 1 FROM member_purchase_summaries s"
            " WHERE s.member_id = c.member_id)",
            "as_of",
        ),
        as_of,
    )
    # Everyone else with a change, and anyone who bought since without one yet (committed
    # after seg_seen was read).
    session.execute(
        text(
            "CREATE TEMPORARY TABLE seg_dirty AS SELECT member_id FROM seg_seen"
            " UNION SELECT member_id FROM seg_sales EXCEPT SELECT member_id FROM seg_merge"
        )
    )
    for table in ("seg_sales", "seg_merge", "seg_dirty"):
        session.execute(text(f"ANALYZE {table}"))
    # New sales: their days start on or after the last refresh's day, so the only day that
    # can be counted twice is the summary's last day.
    t = "member_purchase_summaries"
    merged = run_summary(
        session,
        f"UPDATE {t} SET frequency = {t}.frequency + f.frequency,"
        f" monetary_fen = {t}.monetary_fen + f.monetary_fen,"
        f" last_paid_at = GREATEST(f.last_paid_at, {t}.last_paid_at),"
        f" n_days = {t}.n_days + f.n_days"
        f" - CASE WHEN f.first_day = {t}.last_day THEN 1 ELSE 0 END,"
        f" orders = {t}.orders + f.orders,"
        # The second day is kept once there is one; else it is the first new day after the
        # only one so far, or the new sales' own second day when they began on that day.
        f" second_day = CASE WHEN {t}.second_day IS NOT NULL THEN {t}.second_day"
        f" WHEN f.first_day > {t}.last_day THEN f.first_day ELSE f.second_day END,"
        f" last_day = GREATEST(f.last_day, {t}.last_day)"
        f" FROM ({summary_select('seg_merge', 'seg_sales')}) f"
        f" WHERE {t}.member_id = f.member_id",
        now,
        window_start,
        sort=False,  # a day's sales: few groups
    ).rowcount
    # Purchases that left the window, for members neither recomputed nor changed since
    # seg_seen was read (the history's days are unchanged).
    moved = session.execute(
        timed(
            "UPDATE member_purchase_summaries"
            " SET frequency = frequency - l.n, monetary_fen = monetary_fen - l.money"
            " FROM (SELECT member_id, COUNT(*) AS n,"
            " CAST(SUM(amount_fen - refunded_fen) AS BIGINT) AS money FROM purchases"
            " WHERE paid_at >= :old_window_start AND paid_at < :window_start"
            " AND paid_at <= :as_of AND (refunded_fen < amount_fen OR amount_fen = 0)"
            " AND member_id NOT IN (SELECT member_id FROM seg_dirty)"
            " AND member_id NOT IN (SELECT member_id FROM segment_changes"
            " WHERE id NOT IN (SELECT id FROM seg_seen))"
            " GROUP BY member_id) l"
            " WHERE member_purchase_summaries.member_id = l.member_id",
            "old_window_start",
            "window_start",
            "as_of",
        ),
        {"old_window_start": state.window_start, "window_start": window_start, **as_of},
    ).rowcount
    session.execute(
        text(
            "DELETE FROM member_purchase_summaries"
            " WHERE member_id IN (SELECT member_id FROM seg_dirty)"
        )
    )
    run_summary(session, INSERT + summary_select("seg_dirty"), now, window_start)
    recomputed = session.execute(text("SELECT COUNT(*) FROM seg_dirty")).scalar_one()
    return {"merged": merged, "moved": moved, "recomputed": recomputed}
