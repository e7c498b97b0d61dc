"""GET /staff/v1/reports/signups: sign-ups per staff member, store or business day, with how
many bound a phone and how many bought within 30 days of signing up.

A sign-up is a member created in [from, to] (business days in BUSINESS_TZ, by joined_at), counted
where it was credited (members.signed_up_by_staff_id, members.store_id). A closed account (注销)
still counts: the sign-up happened, and its orders are kept. Its phone is erased, but the digest
kept in member_identities says one was bound, so it counts in `with_phone` too. A first purchase
within 30 days is an order paid in [joined_at, joined_at + 30 days) and not fully refunded;
members who signed up less than 30 days ago have had less time. One statement; Python only
fills the days without sign-ups.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Staff
from app.services.segments.sql import timed, tz_params
from app.services.staff import store_scope

GROUPS = ("staff", "store", "day")
MAX_DAYS = 366
FIRST_PURCHASE_DAYS = 30

# group_by: (join, key, the other columns, GROUP BY: a primary key, on which the rest depends).
_KEYS = {
    "staff": (
        "LEFT JOIN staff s ON s.id = m.signed_up_by_staff_id",
        "s.username",
        "s.id AS staff_id, s.store_id AS store_id, COALESCE(s.display_name, '') AS name",
        "s.id",
    ),
    "store": (
        "LEFT JOIN stores st ON st.id = m.store_id",
        "st.code",
        "NULL::bigint AS staff_id, st.id AS store_id, COALESCE(st.name, '') AS name",
        "st.id",
    ),
    "day": (
        "",
        "to_char((m.joined_at AT TIME ZONE :tz)::date, 'YYYY-MM-DD')",
        "NULL::bigint AS staff_id, NULL::bigint AS store_id, '' AS name",
        "1",  # by position: the zone is a parameter, and two parameters are two expressions
    ),
}

_SQL = """
WITH m AS (
    SELECT m.id, m.joined_at, m.store_id, m.signed_up_by_staff_id,
           (m.phone_hash IS NOT NULL OR EXISTS (
               SELECT 1 FROM member_identities i WHERE i.member_id = m.id AND i.kind = 'phone'
           )) AS with_phone,
           EXISTS (
               SELECT 1 FROM purchases p
               WHERE p.member_id = m.id AND p.paid_at >= m.joined_at
                 AND p.paid_at < m.joined_at + make_interval(days => :window_days)
                 AND p.refunded_fen < p.amount_fen
           ) AS bought
    FROM members m
    WHERE m.joined_at >= :start AND m.joined_at < :end {store_filter}
)
SELECT {key} AS key, {extra},
       COUNT(*) AS signups,
       COUNT(*) FILTER (WHERE m.with_phone) AS with_phone,
       COUNT(*) FILTER (WHERE m.bought) AS first_purchase_30d
FROM m {join}
GROUP BY {group_id}
ORDER BY signups DESC, key NULLS LAST
"""


class SignupRow(NamedTuple):
    key: str | None  # staff username, store code or YYYY-MM-DD; None: credited to no one
    staff_id: int | None
    store_id: int | None
    name: str
    signups: int
    with_phone: int
    first_purchase_30d: int
    first_purchase_rate: float  # first_purchase_30d / signups, 4 decimals; 0 without sign-ups


class SignupReport(NamedTuple):
    day_from: date
    day_to: date
    group_by: str
    store_id: int | None
    rows: list[SignupRow]


def _scope(staff: Staff, store_id: int | None) -> int | None:
    """The store the report covers: a manager's own (another is 403), anyone else's choice."""
    own = store_scope(staff)
    if own is not None and store_id is not None and store_id != own:
        raise AppError("auth.forbidden", message="Managers see their own store's sign-ups only.")
    return own if own is not None else store_id


def signups_report(
    session: Session,
    staff: Staff,
    day_from: date,
    day_to: date,
    group_by: str,
    store_id: int | None = None,
) -> SignupReport:
    """Sign-ups in [from, to] per staff member, store or day (module docstring); managers see
    their own store only."""
    if day_to < day_from or (day_to - day_from).days >= MAX_DAYS:
        raise AppError(
            "request.invalid",
            message=f"`to` is on or after `from`, at most {MAX_DAYS} days later.",
            details={"to": ["Out of range."]},
        )
    scope = _scope(staff, store_id)
    join, key, extra, group_id = _KEYS[group_by]
    sql = _SQL.format(
        store_filter="AND m.store_id = :store_id" if scope is not None else "",
        key=key,
        extra=extra,
        join=join,
        group_id=group_id,
    )
    params = {
        "start": clock.business_day_start(day_from),
        "end": clock.business_day_end(day_to),
        "window_days": FIRST_PURCHASE_DAYS,
        "store_id": scope,
        **tz_params(),
    }
    rows = [_row(r) for r in session.execute(timed(sql, "start", "end"), params)]
    if group_by == "day":
        rows = _every_day(rows, day_from, day_to)
    return SignupReport(day_from, day_to, group_by, scope, rows)


def _row(r) -> SignupRow:
    rate = round(r.first_purchase_30d / r.signups, 4) if r.signups else 0.0
    return SignupRow(
        r.key, r.staff_id, r.store_id, r.name, r.signups, r.with_phone, r.first_purchase_30d, rate
    )


def _every_day(rows: list[SignupRow], day_from: date, day_to: date) -> list[SignupRow]:
    found = {row.key: row for row in rows}
    days = (day_from + timedelta(days=n) for n in range((day_to - day_from).days + 1))
    return [
        found.get(day.isoformat(), SignupRow(day.isoformat(), None, None, "", 0, 0, 0, 0.0))
        for day in days
    ]


CSV_COLUMNS = (
    "key",
    "name",
    "staff_id",
    "store_id",
    "signups",
    "with_phone",
    "first_purchase_30d",
    "first_purchase_rate",
)


def csv_rows(answer: dict) -> tuple[list[str], list[list]]:
    """The report's rows (as the JSON answer has them) as a CSV table, in the same order."""
    return list(CSV_COLUMNS), [[row.get(c) for c in CSV_COLUMNS] for row in answer["rows"]]
