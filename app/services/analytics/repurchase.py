"""The second purchase: the node where a member is won or lost.

A purchase day is a business day with an order that counts; the second purchase is the second
such day (two orders on one day are one visit). With a store filter, only orders at the store
count. Figures: how many days buyers took from their first to their second purchase (a
distribution and its median), the share of buyers whose first purchase is at least 90 days old
who came back within 90 days, and the share of buyers who bought on one day only.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from app import clock
from app.models.base import UTCDateTime
from app.services.analytics import COUNTS, share

# Days from the first to the second purchase: [from_day, to_day] (None: no upper end).
BUCKETS = ((1, 7), (8, 14), (15, 30), (31, 60), (61, 90), (91, 180), (181, 365), (366, None))
RETURN_DAYS = 90


def _bucket(low: int, high: int | None) -> str:
    upper = f" AND gap <= {high}" if high is not None else ""
    return f"COUNT(*) FILTER (WHERE gap >= {low}{upper}) AS d{low}"


_REPURCHASE = text(
    f"""
    WITH days AS (
        SELECT p.member_id, (p.paid_at AT TIME ZONE :tz)::date AS day
        FROM purchases p
        WHERE p.paid_at <= :now AND {COUNTS}
          AND (CAST(:store_id AS bigint) IS NULL OR p.store_id = :store_id)
        GROUP BY 1, 2
    ), ranked AS (
        SELECT member_id, day, row_number() OVER (PARTITION BY member_id ORDER BY day) AS n
        FROM days
    ), firsts AS (
        SELECT member_id, MIN(day) AS first_day,
               MIN(day) FILTER (WHERE n = 2) - MIN(day) AS gap
        FROM ranked WHERE n <= 2 GROUP BY member_id
    )
    SELECT COUNT(*) AS buyers, COUNT(gap) AS repeat_buyers,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY gap) AS median_gap,
           COUNT(*) FILTER (WHERE first_day <= CAST(:today AS date) - {RETURN_DAYS}) AS eligible,
           COUNT(*) FILTER (WHERE first_day <= CAST(:today AS date) - {RETURN_DAYS}
                            AND gap <= {RETURN_DAYS}) AS came_back,
           {", ".join(_bucket(low, high) for low, high in BUCKETS)}
    FROM firsts
    """
).bindparams(bindparam("now", type_=UTCDateTime()))


def repurchase(session: Session, store_id: int | None, now) -> dict:
    row = session.execute(
        _REPURCHASE,
        {
            "now": now,
            "today": clock.business_date(now),
            "store_id": store_id,
            "tz": clock.business_tz().key,
        },
    ).one()
    buyers, repeat = int(row.buyers), int(row.repeat_buyers)
    return {
        "store_id": store_id,
        "buyers": buyers,
        "repeat_buyers": repeat,
        "days_to_second_purchase": [
            {"from_day": low, "to_day": high, "members": int(getattr(row, f"d{low}"))}
            for low, high in BUCKETS
        ],
        "median_days_to_second": row.median_gap,
        "second_purchase_rate_90d": share(int(row.came_back), int(row.eligible)),
        "first_purchases_90_days_ago": int(row.eligible),
        "one_time_buyer_share": share(buyers - repeat, buyers),
    }
