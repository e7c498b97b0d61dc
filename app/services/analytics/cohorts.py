"""Cohorts: members by the business month they joined, and the share of each cohort buying in
month 0 (the month they joined), 1, 2, ... up to the current month. With a store filter, the
cohorts are the members who signed up at the store, buying anywhere in the chain."""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from app import clock
from app.models.base import UTCDateTime
from app.services.analytics import COUNTS, month_start, parse_month, share

_MONTH_NO = "(EXTRACT(YEAR FROM {t})::int * 12 + EXTRACT(MONTH FROM {t})::int - 1)"
_JOINED = _MONTH_NO.format(t="(joined_at AT TIME ZONE :tz)")
_PAID = _MONTH_NO.format(t="(p.paid_at AT TIME ZONE :tz)")

_COHORTS = text(
    f"""
    WITH cohort AS MATERIALIZED (
        SELECT id, {_JOINED} AS joined FROM members
        WHERE joined_at >= :start AND joined_at < :end AND joined_at <= :now
          AND (CAST(:store_id AS bigint) IS NULL OR store_id = :store_id)
    ), sizes AS (
        SELECT joined, COUNT(*) AS members FROM cohort GROUP BY joined
    ), bought AS (
        SELECT c.joined, {_PAID} - c.joined AS since, COUNT(DISTINCT c.id) AS buyers
        FROM cohort c JOIN purchases p ON p.member_id = c.id
        WHERE p.paid_at <= :now AND {COUNTS}
        GROUP BY 1, 2
    )
    SELECT s.joined, s.members, b.since, b.buyers
    FROM sizes s LEFT JOIN bought b ON b.joined = s.joined AND b.since >= 0
    ORDER BY s.joined, b.since
    """
).bindparams(*(bindparam(n, type_=UTCDateTime()) for n in ("start", "end", "now")))


def cohorts(session: Session, first: str, last: str, store_id: int | None, now) -> dict:
    """One row per join month from `first` to `last` (YYYY-MM): members, and `retention`, the
    share of them buying in each month since, from month 0 to the current one."""
    (y0, m0), (y1, m1) = parse_month(first), parse_month(last)
    today = clock.business_date(now)
    current = today.year * 12 + today.month - 1
    params = {
        "start": month_start(y0, m0),
        "end": month_start(y1, m1 + 1),
        "now": now,
        "store_id": store_id,
        "tz": clock.business_tz().key,
    }
    sizes: dict[int, int] = {}
    buyers: dict[int, dict[int, int]] = {}
    for row in session.execute(_COHORTS, params):
        sizes[row.joined] = row.members
        if row.since is not None:
            buyers.setdefault(row.joined, {})[row.since] = row.buyers
    rows = []
    for month_no in range(y0 * 12 + m0 - 1, y1 * 12 + m1):
        members = sizes.get(month_no, 0)
        got = buyers.get(month_no, {})
        months = max(current - month_no + 1, 0)
        rows.append(
            {
                "cohort": f"{month_no // 12:04d}-{month_no % 12 + 1:02d}",
                "members": members,
                "buyers": [got.get(k, 0) for k in range(months)],
                "retention": [share(got.get(k, 0), members) for k in range(months)],
            }
        )
    return {"from": first, "to": last, "store_id": store_id, "rows": rows}
