"""The nightly segments refresh: RFM, lifecycle stage and the BG/NBD odds for every member.

Set-based, in two transactions. First, per-member purchase summaries (member_purchase_summaries,
kept between nights) are brought to tonight: recomputed from the purchases for the members whose
purchases changed (logged by triggers on purchases into segment_changes) or who bought since; for
members whose purchases only left the RFM window, those are subtracted; everyone's the first
time. Then, on PostgreSQL at once on two connections: every member's row (one CREATE TABLE AS,
after the quintile cut points), and the BG/NBD model, fitted in Python on the distinct
(x, t_x, T) summaries, with its figures per purchase pattern; both new tables replace last
night's at one commit. Works on PostgreSQL and SQLite (one connection, one step after another).

Purchases count when paid at or before `now` and not fully refunded; money is net of refunds.
Days are business days (BUSINESS_TZ); day numbers count from 2000-01-01.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import CheckConstraint, bindparam, text
from sqlalchemy.orm import Session

from app import clock
from app.models.base import UTCDateTime
from app.models.segments import RFM_GROUPS, MemberSegment, SegmentState
from app.services import programs

DEFAULTS = {
    # RFM looks at purchases in the last window_days days.
    "window_days": 365,
    # Lifecycle: new = joined at most new_days ago; active = bought at most active_days ago;
    # sleeping = last purchase (or joining, for members who never bought) at most lost_days ago;
    # lost = longer ago than that.
    "new_days": 30,
    "active_days": 90,
    "lost_days": 180,
}
programs.register_defaults("segments", DEFAULTS)

PREDICTION_DAYS = 90
EPOCH = date(2000, 1, 1)
MIN_CUSTOMERS_FOR_MODEL = 20
# PostgreSQL: enough memory to sort ten million purchases and hash a million members in memory
# (for this job's transactions only; it runs alone at night).
PG_WORK_MEM = "1GB"


def is_postgres(session) -> bool:
    """Always: PostgreSQL is the only database. The segments split removes this and the branches
    that still ask it, whose other sides are dead code now."""
    return True


def config(session: Session) -> dict:
    return programs.get_config(session, "segments")


def day_number(day: date) -> int:
    return (day - EPOCH).days


def day_no_sql(session: Session, column: str) -> str:
    """SQL for the business day number of a UTC timestamp column."""
    if is_postgres(session):
        return f"(({column} AT TIME ZONE :tz)::date - DATE '2000-01-01')"
    # SQLite knows no time zones: the zone's offset at `now` (exact for Asia/Shanghai, no DST).
    return f"CAST(julianday(date({column}, :tz_offset)) - 2451544.5 AS INTEGER)"


def _date_fromday_no_sql(session: Session, expression: str) -> str:
    if is_postgres(session):
        return f"(DATE '2000-01-01' + CAST({expression} AS INTEGER))"
    return f"date('2000-01-01', printf('%+d days', {expression}))"


def tz_params(now: datetime) -> dict:
    tz = clock.business_tz()
    offset_minutes = int(now.astimezone(tz).utcoffset().total_seconds() // 60)
    return {"tz": tz.key, "tz_offset": f"{offset_minutes:+d} minutes"}


def _summary_select(
    session: Session, members: str | None = None, purchases: str = "purchases"
) -> str:
    """SELECT of the per-member summary columns (as in member_purchase_summaries) as of :now,
    window figures from :window_start; only for the members in the table `members` if given;
    from the table `purchases` (or one with its member_id, paid_at, amount_fen, refunded_fen).

    Two aggregations (per member and day, then per member). On PostgreSQL the day is the
    expression of the index ix_purchases_member_business_day (the zone written out, as in the
    index), so both read the index in order -- for a few members, by member through it; were it
    missing, a sort does it (never a hash: with a group for nearly every purchase the hash table
    spills to disk, measured slower)."""
    if is_postgres(session):
        zone = clock.business_tz().key.replace("'", "")
        day, day_no = f"timezone('{zone}', paid_at)::date", "{}(day) - DATE '2000-01-01'"
    else:
        day, day_no = day_no_sql(session, "paid_at"), "{}(day)"
    only = f"AND member_id IN (SELECT member_id FROM {members})" if members else ""
    return f"""
        SELECT member_id, CAST(SUM(frequency) AS BIGINT) AS frequency,
               CAST(SUM(monetary_fen) AS BIGINT) AS monetary_fen,
               MAX(last_paid_at) AS last_paid_at, {day_no.format("MIN")} AS first_day,
               {day_no.format("MAX")} AS last_day, COUNT(*) AS n_days
        FROM (SELECT member_id, {day} AS day,
                     SUM(CASE WHEN paid_at >= :window_start THEN 1 ELSE 0 END) AS frequency,
                     SUM(CASE WHEN paid_at >= :window_start THEN amount_fen - refunded_fen
                              ELSE 0 END) AS monetary_fen,
                     MAX(paid_at) AS last_paid_at
              FROM {purchases}
              WHERE paid_at <= :now AND (refunded_fen < amount_fen OR amount_fen = 0) {only}
              GROUP BY 1, 2) per_day
        GROUP BY member_id
        """


def _timed(sql: str, *names: str):
    """text(sql) with the named parameters bound as instants (aware, stored as UTC)."""
    return text(sql).bindparams(*(bindparam(name, type_=UTCDateTime()) for name in names))


def _run_summary(
    session: Session, sql: str, now: datetime, window_start: datetime, sort=True, **times
):
    """Run a statement made with _summary_select. `sort`: PostgreSQL groups by sorting (or by
    reading the index in order), for the many groups of many members' whole histories."""
    postgres = sort
    if postgres:
        session.execute(text("SET LOCAL enable_hashagg = off"))
    times.update(now=now, window_start=window_start)
    result = session.execute(
        _timed(sql, *times),
        {**times, **tz_params(now)},
    )
    if postgres:
        session.execute(text("SET LOCAL enable_hashagg = on"))
    return result


SUMMARY_COLUMNS = "member_id, frequency, monetary_fen, last_paid_at, first_day, last_day, n_days"


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
    postgres = is_postgres(session)
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
    if postgres:
        session.execute(text("ANALYZE seg_seen"))
    insert = f"INSERT INTO member_purchase_summaries ({SUMMARY_COLUMNS}) "
    counts = {"full": full, "recomputed": None, "merged": 0, "moved": 0}
    if full:
        session.execute(
            text(
                "TRUNCATE member_purchase_summaries"
                if postgres
                else "DELETE FROM member_purchase_summaries"
            )
        )
        _run_summary(session, insert + _summary_select(session), now, window_start)
    else:
        as_of = {"as_of": state.as_of}
        # The sales since the last refresh, by ix_purchases_paid_at (a table of their own, with
        # statistics: those of purchases never know today's sales, and plans made on them are
        # seconds slower).
        session.execute(
            _timed(
                "CREATE TEMPORARY TABLE seg_sales AS"
                " SELECT member_id, paid_at, amount_fen, refunded_fen FROM purchases"
                " WHERE paid_at > :as_of AND paid_at <= :now",
                "as_of",
                "now",
            ),
            {**as_of, "now": now},
        )
        session.execute(
            _timed(
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
        if postgres:
            for table in ("seg_sales", "seg_merge", "seg_dirty"):
                session.execute(text(f"ANALYZE {table}"))
        # New sales: their days start on or after the last refresh's day, so the only day that
        # can be counted twice is the summary's last day.
        t = "member_purchase_summaries"
        counts["merged"] = _run_summary(
            session,
            f"UPDATE {t} SET frequency = {t}.frequency + f.frequency,"
            f" monetary_fen = {t}.monetary_fen + f.monetary_fen,"
            f" last_paid_at = CASE WHEN f.last_paid_at > {t}.last_paid_at THEN f.last_paid_at"
            f" ELSE {t}.last_paid_at END,"
            f" n_days = {t}.n_days + f.n_days"
            f" - CASE WHEN f.first_day = {t}.last_day THEN 1 ELSE 0 END,"
            f" last_day = CASE WHEN f.last_day > {t}.last_day THEN f.last_day ELSE {t}.last_day END"
            f" FROM ({_summary_select(session, 'seg_merge', 'seg_sales')}) f"
            f" WHERE {t}.member_id = f.member_id",
            now,
            window_start,
            sort=False,  # a day's sales: few groups
        ).rowcount
        # Purchases that left the window, for members neither recomputed nor changed since
        # seg_seen was read (the history's days are unchanged).
        counts["moved"] = session.execute(
            _timed(
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
        _run_summary(session, insert + _summary_select(session, "seg_dirty"), now, window_start)
        counts["recomputed"] = session.execute(text("SELECT COUNT(*) FROM seg_dirty")).scalar_one()
    session.execute(text("DELETE FROM segment_changes WHERE id IN (SELECT id FROM seg_seen)"))
    if state is None:
        state = SegmentState(id=1)
        session.add(state)
    state.as_of, state.window_start, state.business_tz = now, window_start, zone
    session.flush()
    if postgres and full:
        session.execute(text("ANALYZE member_purchase_summaries"))
    for table in temporary:
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))
    return counts


def model_summaries(
    session: Session, today: date, table: str = "member_purchase_summaries"
) -> tuple:
    """Distinct (x, t_x, T) in days from a summary table, with how many members share each.

    Grouped by numpy: with nearly a group per member, PostgreSQL's GROUP BY of a million
    summaries took 1.3 s; reading the columns packed and sorting one integer key, about 0.6 s.
    """
    import numpy as np  # imported here: numpy and scipy would slow every process's start-up

    today_no = day_number(today)
    if is_postgres(session):
        # One bytea of big-endian int8s, each the model key x * 2^40 + t_x * 2^20 + T (a row per
        # member through the driver, or COPY, costs seconds of Python; three columns, twice one).
        packed = session.execute(
            text(f"SELECT string_agg(int8send({_model_key_sql()}), '') FROM {table}"),
            {"today": today_no},
        ).scalar_one()
        keys = np.frombuffer(packed or b"", dtype=">i8").astype(np.int64)
        x, t_x, big_t = keys >> 40, (keys >> 20) & 0xFFFFF, keys & 0xFFFFF
    else:
        rows = session.execute(
            text(f"SELECT n_days - 1, last_day - first_day, first_day FROM {table}")
        ).all()
        x, t_x, first_day = (np.array([r[i] for r in rows], dtype=np.int64) for i in range(3))
        big_t = today_no - first_day
        keys = _model_keys(x, t_x, big_t)
    _, first, count = np.unique(keys, return_index=True, return_counts=True)
    return (
        x[first].astype(float),
        t_x[first].astype(float),
        big_t[first].astype(float),
        count.astype(float),
    )


def fit_purchase_model(session: Session, calibration_end: date):
    """Fit BG/NBD on every purchase up to the end of business day `calibration_end`.

    Repeat purchases are counted on distinct days; time is in weeks; T runs from each member's
    first purchase to `calibration_end`. Returns a bgnbd.BgNbdFit, or None when there are too
    few customers to fit. Leaves the refresh's summaries alone (a temporary table of its own).
    """
    end = clock.business_day_end(calibration_end) - timedelta(microseconds=1)
    session.execute(text("DROP TABLE IF EXISTS seg_calibration"))
    sql = "CREATE TEMPORARY TABLE seg_calibration AS " + _summary_select(session)
    _run_summary(session, sql, end, end)
    try:
        return _fit_summaries(model_summaries(session, calibration_end, "seg_calibration"))[0]
    finally:
        session.execute(text("DROP TABLE IF EXISTS seg_calibration"))


def _fit_summaries(summaries, start: dict | None = None):
    """The fitted model (None with too few customers) and the distinct (x, t_x, T) in days;
    the optimiser starts from `start` (the last fit's parameters) when given."""
    from app.services import bgnbd

    x, t_x, big_t, count = summaries
    if count.sum() < MIN_CUSTOMERS_FOR_MODEL or not (x > 0).any():
        return None, (x, t_x, big_t)
    weeks = bgnbd.DAYS_PER_WEEK
    model = bgnbd.fit(x, t_x / weeks, big_t / weeks, count, start=start)
    return model, (x, t_x, big_t)


# The model's values are looked up by one integer made of (x, t_x, T): x * 2^40 + t_x * 2^20 + T
# (days; T and t_x stay below 2^20 days). Joining a million members on one integer is faster
# than on three expressions.
def _model_key_sql(table: str = "") -> str:
    """The model key of a summary row (of `table`, the alias, if given), T counted to :today."""
    s = f"{table}." if table else ""
    return (
        f"({s}n_days - 1) * 1099511627776 + ({s}last_day - {s}first_day) * 1048576"
        f" + (:today - {s}first_day)"
    )


def _model_keys(x, t_x, big_t):
    return (x.astype("int64") << 40) + (t_x.astype("int64") << 20) + big_t.astype("int64")


def _model_values(model, triples):
    """(key, p_alive, expected purchases) arrays per distinct (x, t_x, T), or None without a
    model; an expected count that cannot be computed is NaN."""
    from app.services import bgnbd

    if model is None:
        return None
    x, t_x, big_t = triples
    weeks = bgnbd.DAYS_PER_WEEK
    alive = bgnbd.p_alive(model, x, t_x / weeks, big_t / weeks)
    expected = bgnbd.expected_purchases(
        model, PREDICTION_DAYS / weeks, x, t_x / weeks, big_t / weeks
    )
    return _model_keys(x, t_x, big_t), alive, expected


def _binary_copy(keys, alive, expected) -> bytes:
    """PostgreSQL's binary COPY of (k, p_alive, expected) rows, built by numpy in one go (the
    text form cost 1.5 s of Python for 700,000 rows); NaN expected counts become NULL."""
    import numpy as np

    known = ~np.isnan(expected)
    fields = [("n", ">i2"), ("k_len", ">i4"), ("k", ">i8"), ("p_len", ">i4"), ("p", ">f8")]
    fields.append(("e_len", ">i4"))  # then the value, or nothing when the length is -1 (NULL)
    with_e = np.zeros(int(known.sum()), dtype=[*fields, ("e", ">f8")])
    without_e = np.zeros(int((~known).sum()), dtype=fields)
    for block, mask, e_len in ((with_e, known, 8), (without_e, ~known, -1)):
        block["n"] = 3
        block["k_len"], block["k"] = 8, keys[mask]
        block["p_len"], block["p"] = 8, alive[mask]
        block["e_len"] = e_len
    with_e["e"] = expected[known]
    header = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no extension
    trailer = (-1).to_bytes(2, "big", signed=True)
    return header + with_e.tobytes() + without_e.tobytes() + trailer


def store_model_values(connection, values) -> None:
    """The model's figures into segment_model_values (PostgreSQL: into segment_model_values_next,
    keyed and analysed, which swap_in puts in its place)."""
    if not is_postgres(connection):
        connection.execute(text("DELETE FROM segment_model_values"))
        if values is not None:
            connection.execute(
                text("INSERT INTO segment_model_values (k, p_alive, expected) VALUES (:k, :p, :e)"),
                [
                    {"k": k, "p": p, "e": None if e != e else e}
                    for k, p, e in zip(*(v.tolist() for v in values), strict=True)
                ],
            )
        return
    for statement in (
        "DROP TABLE IF EXISTS segment_model_values_next",
        "CREATE TABLE segment_model_values_next (LIKE segment_model_values INCLUDING CONSTRAINTS)",
    ):
        connection.execute(text(statement))
    if values is not None:
        cursor = connection.connection.driver_connection.cursor()
        copy_sql = (
            "COPY segment_model_values_next (k, p_alive, expected) FROM STDIN (FORMAT BINARY)"
        )
        with cursor.copy(copy_sql) as copy:
            copy.write(_binary_copy(*values))
    connection.execute(
        text(
            "ALTER TABLE segment_model_values_next"
            " ADD CONSTRAINT segment_model_values_next_pkey PRIMARY KEY (k)"
        )
    )
    connection.execute(text("ANALYZE segment_model_values_next"))


def fit_model(connection, today: date, start: dict | None) -> tuple:
    """Fit BG/NBD on the summaries (starting from last night's parameters) and store its
    figures per purchase pattern. Returns the model (None with too few buyers) and the number of
    buyers."""
    summaries = model_summaries(connection, today)
    model, triples = _fit_summaries(summaries, start=start)
    store_model_values(connection, _model_values(model, triples))
    return model, int(summaries[3].sum())


SEGMENT_COLUMNS = (
    "member_id, lifecycle_stage, stage_since, rfm_group, r_score, f_score, m_score, recency_days,"
    " frequency, monetary_fen, model_key, last_purchase_at, computed_at"
)
RFM_MEASURES = {"r": "last_day", "f": "frequency", "m": "monetary_fen"}
QUINTILES = (0.2, 0.4, 0.6, 0.8)


def rfm_cuts(connection) -> dict:
    """Quintile cut points and averages of the three RFM measures over the members who bought in
    the window: cut k is the first value whose share of buyers at or below it reaches k/5 (the
    20/40/60/80% percentile_disc: the value at position ceil(k * n / 5) in ascending order). A
    member scores 1 plus the number of cuts their value is above, so equal figures always get
    equal scores."""
    buyers = "FROM member_purchase_summaries WHERE frequency > 0"
    columns = RFM_MEASURES.values()
    averages = ", ".join(f"AVG({column})" for column in columns)
    if is_postgres(connection):
        # One pass, three sorts of integers (0.5 s for a million buyers, against 1.4 s by the
        # window functions below).
        quintiles = "ARRAY[" + ", ".join(str(q) for q in QUINTILES) + "]"
        cuts = ", ".join(
            f"percentile_disc({quintiles}) WITHIN GROUP (ORDER BY {column})" for column in columns
        )
        row = connection.execute(text(f"SELECT {averages}, {cuts} {buyers}")).one()
        values = {key: list(row[3 + i] or [0] * 4) for i, key in enumerate(RFM_MEASURES)}
    else:
        row = connection.execute(text(f"SELECT {averages}, COUNT(*) {buyers}")).one()
        n = row[3]
        positions = [-(-round(q * 5) * n // 5) for q in QUINTILES]
        values = {}
        for key, column in RFM_MEASURES.items():
            found = dict(
                connection.execute(
                    text(
                        f"SELECT rn, v FROM (SELECT {column} AS v,"
                        f" ROW_NUMBER() OVER (ORDER BY {column}) AS rn {buyers}) ranked"
                        " WHERE rn IN :positions"
                    ).bindparams(bindparam("positions", expanding=True)),
                    {"positions": positions},
                ).all()
            )
            values[key] = [found.get(position, 0) for position in positions]
    params: dict = {}
    for i, key in enumerate(RFM_MEASURES):
        params[f"{key}_avg"] = float(row[i] or 0)
        for k, value in enumerate(values[key], start=1):
            params[f"{key}{k}"] = value
    return params


def _score_sql(key: str, column: str) -> str:
    above = " + ".join(f"CASE WHEN s.{column} > :{key}{k} THEN 1 ELSE 0 END" for k in range(1, 5))
    return f"CASE WHEN s.frequency > 0 THEN 1 + {above} END"


def _rfm_group_sql() -> str:
    """重要 = monetary above average; then recency (better than average) and frequency: the
    groups in RFM_GROUPS order are numbered by which of M, R, F are not above average."""
    low = " + ".join(
        f"CASE WHEN s.{column} > :{key}_avg THEN 0 ELSE {weight} END"
        for (key, column), weight in zip(
            (("m", "monetary_fen"), ("r", "last_day"), ("f", "frequency")), (4, 2, 1), strict=True
        )
    )
    names = " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(RFM_GROUPS))
    return f"CASE WHEN s.frequency > 0 THEN CASE {low} {names} END END"


def _segments_select(session: Session) -> str:
    """Every member's new member_segments row, from the members, their summaries, the cut points
    (:r1 .. :m4, :r_avg ..) and the old row (stage_since is kept while the stage stays the
    same)."""
    joined_day = day_no_sql(session, "m.joined_at")
    entered = _date_fromday_no_sql(session, "st.entered_day")
    # PostgreSQL: each subquery's columns computed once per member (by the parallel workers, with
    # the joins), not again wherever the outer query names them (the business day of joined_at,
    # six times, cost a second a million).
    fence = "OFFSET 0"
    return f"""
    SELECT st.member_id, CAST(st.stage AS VARCHAR(16)) AS lifecycle_stage,
           CASE WHEN st.old_stage = st.stage THEN st.old_since ELSE {entered} END AS stage_since,
           CAST(st.rfm_group AS VARCHAR(8)) AS rfm_group, CAST(st.r_score AS INTEGER) AS r_score,
           CAST(st.f_score AS INTEGER) AS f_score, CAST(st.m_score AS INTEGER) AS m_score,
           CAST(st.recency_days AS INTEGER) AS recency_days,
           CAST(COALESCE(st.frequency, 0) AS INTEGER) AS frequency,
           CAST(COALESCE(st.monetary_fen, 0) AS BIGINT) AS monetary_fen,
           CAST(st.model_key AS BIGINT) AS model_key,
           st.last_paid_at AS last_purchase_at, :now AS computed_at
    FROM (
        SELECT b.*,
               CASE WHEN b.joined_days <= :new_days THEN 'new'
                    WHEN b.recency_days <= :active_days THEN 'active'
                    WHEN COALESCE(b.recency_days, b.joined_days) <= :lost_days THEN 'sleeping'
                    ELSE 'lost' END AS stage,
               CASE WHEN b.joined_days <= :new_days THEN b.joined_day
                    WHEN b.recency_days <= :active_days THEN b.last_day
                    WHEN COALESCE(b.recency_days, b.joined_days) <= :lost_days
                         THEN COALESCE(b.last_day + :active_days, b.joined_day + :new_days) + 1
                    ELSE COALESCE(b.last_day, b.joined_day) + :lost_days + 1 END AS entered_day
        FROM (
            SELECT m.id AS member_id, {joined_day} AS joined_day,
                   :today - {joined_day} AS joined_days,
                   :today - s.last_day AS recency_days, s.last_day, s.frequency,
                   s.monetary_fen, s.last_paid_at, {_model_key_sql("s")} AS model_key,
                   {_score_sql("r", "last_day")} AS r_score,
                   {_score_sql("f", "frequency")} AS f_score,
                   {_score_sql("m", "monetary_fen")} AS m_score,
                   {_rfm_group_sql()} AS rfm_group,
                   old.lifecycle_stage AS old_stage, old.stage_since AS old_since
            FROM members m
            LEFT JOIN member_purchase_summaries s ON s.member_id = m.id
            LEFT JOIN member_segments old ON old.member_id = m.id
            {fence}
        ) b
        {fence}
    ) st
    """


def write_segments(connection, now: datetime, cfg: dict) -> None:
    """Every member's row written anew (after the RFM cut points): nearly every row changes every
    night (recency and the odds move with each day), and writing afresh is several times faster
    than updating. Runs on a Connection: on PostgreSQL, in a thread while the model is fitted.

    PostgreSQL: into member_segments_next, which swap_in puts in place of member_segments.
    Elsewhere: emptied and refilled in the transaction.
    """
    params = {
        "now": now,
        "today": day_number(clock.business_date(now)),
        "new_days": int(cfg["new_days"]),
        "active_days": int(cfg["active_days"]),
        "lost_days": int(cfg["lost_days"]),
        **rfm_cuts(connection),
        **tz_params(now),
    }
    select = _segments_select(connection)
    if not is_postgres(connection):
        connection.execute(text("DELETE FROM member_segments"))
        connection.execute(
            _timed(f"INSERT INTO member_segments ({SEGMENT_COLUMNS}) {select}", "now"), params
        )
        return
    # CREATE TABLE AS, which PostgreSQL may run in parallel (an INSERT ... SELECT it never does),
    # then the model's NOT NULLs, check and key in one pass (the key built in one sort).
    connection.execute(text("DROP TABLE IF EXISTS member_segments_next"))
    connection.execute(_timed(f"CREATE TABLE member_segments_next AS {select}", "now"), params)
    table = MemberSegment.__table__
    constraints = [
        f"ALTER COLUMN {column.name} SET NOT NULL"
        for column in table.columns
        if not column.nullable and not column.primary_key
    ] + [
        f"ADD CONSTRAINT {check.name} CHECK ({check.sqltext})"
        for check in table.constraints
        if isinstance(check, CheckConstraint)
    ]
    constraints.append("ADD CONSTRAINT member_segments_next_pkey PRIMARY KEY (member_id)")
    connection.execute(text(f"ALTER TABLE member_segments_next {', '.join(constraints)}"))
    connection.execute(text("ANALYZE member_segments_next"))


def swap_in(session: Session) -> None:
    """PostgreSQL: the new member_segments and segment_model_values take the old ones' places;
    readers wait only for the renames, at commit."""
    for table in ("member_segments", "segment_model_values"):
        for statement in (
            f"DROP TABLE {table}",
            f"ALTER TABLE {table}_next RENAME TO {table}",
            f"ALTER TABLE {table} RENAME CONSTRAINT {table}_next_pkey TO pk_{table}",
        ):
            session.execute(text(statement))


class _Background:
    """Run fn(connection, *args) in a thread on PostgreSQL (the caller must leave the connection
    alone until join()), or at once elsewhere (SQLite connections stay in their thread)."""

    def __init__(self, connection, fn, *args) -> None:
        self.error: BaseException | None = None
        self.thread = None
        if not is_postgres(connection):
            fn(connection, *args)
            return

        def run() -> None:
            try:
                fn(connection, *args)
            except BaseException as error:  # re-raised in the caller's thread by join()
                self.error = error

        self.thread = threading.Thread(target=run, name="segments-write", daemon=True)
        self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error


# One refresh at a time (a second waits for the first); the key of its advisory lock.
REFRESH_LOCK = 4_815_162_342


@contextlib.contextmanager
def _one_at_a_time(session: Session) -> Iterator[None]:
    """PostgreSQL: a session-level advisory lock, on a connection of its own (the refresh commits
    twice, and its session may change connections in between)."""
    if not is_postgres(session):
        yield
        return
    with session.get_bind().connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": REFRESH_LOCK})
        try:
            yield
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": REFRESH_LOCK})
            lock.commit()


@contextlib.contextmanager
def _model_connection(session: Session) -> Iterator:
    """Where the model is fitted and stored: on PostgreSQL a second connection, committed on its
    own (the session's is busy writing the members' rows meanwhile); elsewhere the session's."""
    if not is_postgres(session):
        yield session.connection()
        return
    with session.get_bind().begin() as connection:
        _settings(connection)
        yield connection


def _settings(connection) -> None:
    if is_postgres(connection):
        connection.execute(text(f"SET LOCAL work_mem = '{PG_WORK_MEM}'"))
        # JIT compiling these few big statements costs seconds and saves none.
        connection.execute(text("SET LOCAL jit = off"))


def refresh(session: Session, now: datetime, full: bool = False) -> dict:
    """Recompute every member's stage, RFM scores and group, and odds of being active, as of
    `now`. The per-member purchase summaries are brought forward from the last refresh (rebuilt
    from all purchases with `full`, or when they cannot be brought forward) and committed; then,
    in a second transaction, every member's row and the model's figures, which replace last
    night's together. Returns counts for the job log, with the fitted model."""
    cfg = config(session)
    today = clock.business_date(now)
    window_start = clock.business_day_start(today - timedelta(days=int(cfg["window_days"]) - 1))
    # Seconds per step, in the job's record: where a slow night went.
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    def lap(step: str) -> None:
        seconds[step] = time.perf_counter() - started - sum(seconds.values())

    with _one_at_a_time(session):
        _settings(session.connection())
        summary = update_summaries(session, now, window_start, full)
        start = session.get(SegmentState, 1).model
        # Committed on their own: both halves below read them, from two connections at once.
        session.commit()
        lap("summaries")
        # PostgreSQL writes every member's row while Python fits the model: two cores, half the
        # wait.
        connection = session.connection()
        _settings(connection)
        writing = _Background(connection, write_segments, now, cfg)
        try:
            with _model_connection(session) as model_connection:
                model, buyers = fit_model(model_connection, today, start)
            lap("model")
        finally:
            writing.join()  # the connection is the thread's until then, even if the fit failed
        lap("write")
        if is_postgres(session):
            swap_in(session)
        if model is not None:
            state = session.get(SegmentState, 1)
            state.model = {"r": model.r, "alpha": model.alpha, "a": model.a, "b": model.b}
        stages = dict(
            session.execute(
                text(
                    "SELECT lifecycle_stage, COUNT(*) FROM member_segments GROUP BY lifecycle_stage"
                )
            ).all()
        )
        session.commit()
        lap("swap")
    return {
        "buyers": buyers,
        "summaries_recomputed": "all" if summary["full"] else summary["recomputed"],
        "summaries_new_sales": summary["merged"],
        "summaries_out_of_window": summary["moved"],
        **{stage: int(stages.get(stage, 0)) for stage in ("new", "active", "sleeping", "lost")},
        "model": model.as_dict() if model is not None else None,
        "seconds": {step: round(value, 2) for step, value in seconds.items()},
    }
