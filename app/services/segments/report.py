"""What marketing sees: members per stage and RFM group, and the store figures, from the database.

Members belong to the store where they signed up (members.store_id); sales belong to the store
where the purchase was paid. Purchases refunded in full do not count (as in the refresh); money
is net of refunds. Stages and RFM groups are as of the last nightly refresh (members who signed
up since count as new, with no RFM group). Every count is a GROUP BY in SQL; Python only
arranges the rows.

Computing the figures reads every member and purchase: 16 s at 1M members and 10M orders. So
the nightly refresh computes them for the default period (the 12 months up to its business day)
and stores them (segment_reports, `store`), and a request for that period reads the stored row
(`read`: `source` "stored", `figures_computed_at` the refresh's instant); another period, or
`live`, computes them on the spot (`source` "live").
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.models.segments import LIFECYCLE_STAGES, RFM_GROUPS, MemberSegment, SegmentReport
from app.services.segments.sql import day_number, timed, tz_params

NO_GROUP = "无消费"  # bought nothing inside the RFM window
RETURN_DAYS = 90
STORED_ID = 1  # segment_reports has one row
# A purchase that counts: not refunded in full (a zero-amount one counts, as in the refresh).
_COUNTS = "(refunded_fen < amount_fen OR amount_fen = 0)"
_INSTANTS = ("now", "period_start", "period_end", "year_start")


def _run(session: Session, sql: str, params: dict) -> list:
    instants = (name for name in _INSTANTS if f":{name}" in sql)
    return session.execute(timed(sql, *instants), params).all()


def _month_sql(column: str) -> str:
    """SQL for the business month (YYYY-MM) of a UTC timestamp column."""
    return f"to_char({column} AT TIME ZONE :tz, 'YYYY-MM')"


def read(
    session: Session,
    period_from: date | None = None,
    period_to: date | None = None,
    live: bool = False,
) -> dict:
    """The report for [from, to]: the stored one when it is for that period (or none is named),
    else computed now."""
    if not live:
        stored = session.get(SegmentReport, STORED_ID)
        asked = None if period_from is None and period_to is None else (period_from, period_to)
        if stored is not None and (
            asked is None or _period(*asked, clock.now()) == (stored.period_from, stored.period_to)
        ):
            return {
                "period": {"from": stored.period_from, "to": stored.period_to},
                "computed_at": _last_refresh(session),
                "source": "stored",
                "figures_computed_at": stored.computed_at,
                **stored.figures,
            }
    now = clock.now()
    return {**report(session, period_from, period_to, now), "source": "live",
            "figures_computed_at": now}  # fmt: skip


def store(session: Session, now: datetime) -> None:
    """Compute the report for the default period as of `now` and keep it (the refresh does,
    right after it swaps in tonight's segments, under its lock: the stored figures and the
    stages agree)."""
    figures = report(session, now=now, from_summaries=True)
    row = session.get(SegmentReport, STORED_ID) or SegmentReport(id=STORED_ID)
    row.period_from, row.period_to = figures["period"]["from"], figures["period"]["to"]
    row.computed_at = now
    row.figures = {"chain": figures["chain"], "stores": figures["stores"]}
    session.add(row)
    session.flush()


def _period(period_from: date | None, period_to: date | None, now: datetime) -> tuple[date, date]:
    period_to = period_to or clock.business_date(now)
    return period_from or period_to - timedelta(days=364), period_to


def report(
    session: Session,
    period_from: date | None = None,
    period_to: date | None = None,
    now: datetime | None = None,
    from_summaries: bool = False,
):
    """Every figure for the chain and per store, for the period [from, to] (business days,
    default: the 12 months up to today), computed now. 'Bought in the last 12 months' counts
    back from `to`. `from_summaries`: the buying habits from member_purchase_summaries (as of
    their refresh, `now`: the refresh's own instant) instead of every purchase."""
    now = now or clock.now()
    period_from, period_to = _period(period_from, period_to, now)
    params = {
        "now": now,
        "period_start": clock.business_day_start(period_from),
        "period_end": clock.business_day_end(period_to),
        "year_start": clock.business_day_start(period_to - timedelta(days=364)),
        "to_date": period_to,
        "return_days": RETURN_DAYS,
        **tz_params(),
    }
    stores = {
        row.id: {"store_id": row.id, "code": row.code, "name": row.name}
        for row in _run(session, "SELECT id, code, name FROM stores ORDER BY id", {})
    }
    per_store: dict = {}

    def entry(store_id):
        if store_id not in per_store:
            base = stores.get(store_id, {"store_id": None, "code": None, "name": "(no store)"})
            per_store[store_id] = {
                **base,
                "members": 0,
                "lifecycle": {stage: 0 for stage in LIFECYCLE_STAGES},
                "rfm": {group: 0 for group in (*RFM_GROUPS, NO_GROUP)},
                "buyers": 0,
                "bought_last_12_months": 0,
                "one_time_buyers": 0,
                "first_time_buyers_90_days_ago": 0,
                "came_back_within_90_days": 0,
                "signups_by_month": {},
                "sales_new_members_fen": 0,
                "sales_earlier_members_fen": 0,
            }
        return per_store[store_id]

    for store_id in stores:
        entry(store_id)
    for row in _run(
        session,
        "SELECT m.store_id, COALESCE(s.lifecycle_stage, 'new') AS stage,"
        f" COALESCE(s.rfm_group, '{NO_GROUP}') AS rfm_group, COUNT(*) AS members"
        " FROM members m LEFT JOIN member_segments s ON s.member_id = m.id"
        " GROUP BY m.store_id, COALESCE(s.lifecycle_stage, 'new'),"
        f" COALESCE(s.rfm_group, '{NO_GROUP}')",
        params,
    ):
        figures = entry(row.store_id)
        figures["members"] += row.members
        figures["lifecycle"][row.stage] += row.members
        figures["rfm"][row.rfm_group] += row.members
    (_habits_from_summaries if from_summaries else _buying_habits)(session, params, entry)
    for row in _run(
        session,
        f"SELECT store_id, {_month_sql('joined_at')} AS month, COUNT(*) AS members"
        " FROM members WHERE joined_at >= :period_start AND joined_at < :period_end"
        " GROUP BY store_id, " + _month_sql("joined_at"),
        params,
    ):
        entry(row.store_id)["signups_by_month"][row.month] = row.members
    for row in _run(
        session,
        "SELECT p.store_id,"
        " SUM(CASE WHEN m.joined_at >= :period_start THEN p.amount_fen - p.refunded_fen"
        "          ELSE 0 END) AS new_fen,"
        " SUM(CASE WHEN m.joined_at < :period_start THEN p.amount_fen - p.refunded_fen"
        "          ELSE 0 END) AS earlier_fen"
        " FROM purchases p JOIN members m ON m.id = p.member_id"
        " WHERE p.paid_at >= :period_start AND p.paid_at < :period_end"
        " AND (p.refunded_fen < p.amount_fen OR p.amount_fen = 0)"
        " GROUP BY p.store_id",
        params,
    ):
        figures = entry(row.store_id)
        figures["sales_new_members_fen"] = int(row.new_fen or 0)
        figures["sales_earlier_members_fen"] = int(row.earlier_fen or 0)
    store_rows = [_with_shares(f) for f in per_store.values()]
    store_rows.sort(key=lambda f: (f["store_id"] is None, f["store_id"] or 0))
    return {
        "period": {"from": period_from, "to": period_to},
        "computed_at": _last_refresh(session),
        "chain": _chain(store_rows),
        "stores": store_rows,
    }


def _habits_from_summaries(session: Session, params: dict, entry) -> None:
    """_buying_habits from the per-member summaries the refresh has just brought to `now` (one
    row per buyer: orders, first, second and last day): a pass over members and summaries
    instead of every purchase. The same figures as _buying_habits for a period ending on the
    refresh's business day (no purchase is paid later than the refresh's instant that day)."""
    to_day = day_number(params["to_date"])
    for row in _run(
        session,
        """
        SELECT m.store_id,
               COUNT(b.member_id) AS buyers,
               COUNT(*) FILTER (WHERE b.last_paid_at >= :year_start) AS bought_12m,
               COUNT(*) FILTER (WHERE b.orders = 1) AS one_time,
               COUNT(*) FILTER (WHERE b.first_day <= :to_day - :return_days) AS eligible,
               COUNT(*) FILTER (WHERE b.first_day <= :to_day - :return_days
                                AND b.second_day - b.first_day <= :return_days) AS came_back
        FROM members m LEFT JOIN member_purchase_summaries b ON b.member_id = m.id
        GROUP BY m.store_id
        """,
        {**params, "to_day": to_day},
    ):
        _habits(entry(row.store_id), row)


def _habits(figures: dict, row) -> None:
    figures["buyers"] = int(row.buyers or 0)
    figures["bought_last_12_months"] = int(row.bought_12m or 0)
    figures["one_time_buyers"] = int(row.one_time or 0)
    figures["first_time_buyers_90_days_ago"] = int(row.eligible or 0)
    figures["came_back_within_90_days"] = int(row.came_back or 0)


def _buying_habits(session: Session, params: dict, entry) -> None:
    """Per store: buyers, bought in the last 12 months, one-time buyers, and first-time buyers
    (first purchase at least 90 days before `to`) who bought again on a later day within 90.

    One pass over the purchases in (member, business day) order -- the order of the index
    ix_purchases_member_business_day, whose expression this repeats (the zone written out) --
    per member and day, then the day's rank within the member (its second day is their second
    purchase), then per member: no sort and no lookup per member."""
    zone = clock.business_tz().key.replace("'", "")
    day = f"timezone('{zone}', paid_at)::date"
    for row in _run(
        session,
        f"""
        SELECT m.store_id,
               COUNT(b.member_id) AS buyers,
               COUNT(*) FILTER (WHERE b.last_paid_at >= :year_start) AS bought_12m,
               COUNT(*) FILTER (WHERE b.purchases = 1) AS one_time,
               COUNT(*) FILTER (WHERE b.first_day <= CAST(:to_date AS date) - :return_days)
                   AS eligible,
               COUNT(*) FILTER (WHERE b.first_day <= CAST(:to_date AS date) - :return_days
                                AND b.second_day - b.first_day <= :return_days) AS came_back
        FROM members m
        LEFT JOIN (
            SELECT member_id, SUM(orders) AS purchases, MIN(day) AS first_day,
                   MIN(day) FILTER (WHERE n = 2) AS second_day, MAX(last_paid_at) AS last_paid_at
            FROM (
                SELECT member_id, day, orders, last_paid_at,
                       row_number() OVER (PARTITION BY member_id ORDER BY day) AS n
                FROM (
                    SELECT member_id, {day} AS day, COUNT(*) AS orders,
                           MAX(paid_at) AS last_paid_at
                    FROM purchases WHERE paid_at < :period_end AND {_COUNTS}
                    GROUP BY 1, 2
                ) per_day
            ) ranked
            GROUP BY member_id
        ) b ON b.member_id = m.id
        GROUP BY m.store_id
        """,
        params,
    ):
        _habits(entry(row.store_id), row)


def _share(part: int, whole: int) -> float | None:
    # Shares are rounded to 4 decimals (0.1234 = 12.34%); None when there is nobody to divide.
    return round(part / whole, 4) if whole else None


def _with_shares(figures: dict) -> dict:
    figures["bought_last_12_months_share"] = _share(
        figures["bought_last_12_months"], figures["members"]
    )
    figures["one_time_buyer_share"] = _share(figures["one_time_buyers"], figures["buyers"])
    figures["came_back_within_90_days_share"] = _share(
        figures["came_back_within_90_days"], figures["first_time_buyers_90_days_ago"]
    )
    figures["signups_by_month"] = [
        {"month": month, "members": n} for month, n in sorted(figures["signups_by_month"].items())
    ]
    figures["lifecycle"] = [{"stage": s, "members": n} for s, n in figures["lifecycle"].items()]
    figures["rfm"] = [{"group": g, "members": n} for g, n in figures["rfm"].items()]
    return figures


def _chain(store_rows: list[dict]) -> dict:
    """Chain-wide totals: the per-store counts added up (every member has one home store)."""
    members = sum(f["members"] for f in store_rows)
    lifecycle = {stage: 0 for stage in LIFECYCLE_STAGES}
    rfm = {group: 0 for group in (*RFM_GROUPS, NO_GROUP)}
    for figures in store_rows:
        for item in figures["lifecycle"]:
            lifecycle[item["stage"]] += item["members"]
        for item in figures["rfm"]:
            rfm[item["group"]] += item["members"]
    return {
        "members": members,
        "lifecycle": [{"stage": s, "members": n} for s, n in lifecycle.items()],
        "rfm": [{"group": g, "members": n} for g, n in rfm.items()],
    }


def _last_refresh(session: Session):
    return session.execute(select(func.max(MemberSegment.computed_at))).scalar_one()


CSV_FIGURES = ("lifecycle", "rfm", "stores", "signups")


def csv_rows(data: dict, figure: str) -> tuple[list[str], list[list]]:
    """One figure of the report as a header and rows (the chain first, then each store)."""
    stores = data["stores"]
    if figure in ("lifecycle", "rfm"):
        key, label = (
            ("stage", "lifecycle_stage") if figure == "lifecycle" else ("group", "rfm_group")
        )
        rows = [["chain", "", "", item[key], item["members"]] for item in data["chain"][figure]]
        for f in stores:
            rows += [
                [f["store_id"] or "", f["code"] or "", f["name"], item[key], item["members"]]
                for item in f[figure]
            ]
        return ["scope_or_store_id", "store_code", "store_name", label, "members"], rows
    if figure == "signups":
        rows = [
            [f["store_id"] or "", f["code"] or "", f["name"], item["month"], item["members"]]
            for f in stores
            for item in f["signups_by_month"]
        ]
        return ["store_id", "store_code", "store_name", "month", "signups"], rows
    columns = [
        "store_id", "code", "name", "members", "bought_last_12_months",
        "bought_last_12_months_share", "buyers", "one_time_buyers", "one_time_buyer_share",
        "first_time_buyers_90_days_ago", "came_back_within_90_days",
        "came_back_within_90_days_share", "sales_new_members_fen", "sales_earlier_members_fen",
    ]  # fmt: skip
    return columns, [[f[c] if f[c] is not None else "" for c in columns] for f in stores]
