"""The nightly segments refresh: RFM, lifecycle stage and the BG/NBD odds for every member.

Set-based: one GROUP BY over the purchases into a temporary per-member summary, the scores and
groups by window functions, one INSERT ... SELECT ... ON CONFLICT into member_segments. Only the
model fit runs in Python, on the distinct (x, t_x, T) summaries. Works on PostgreSQL and SQLite.

Purchases count when paid at or before `now` and not fully refunded; money is net of refunds.
Days are business days (BUSINESS_TZ); day numbers count from 2000-01-01.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from app import clock
from app.models.base import UTCDateTime, is_postgres
from app.models.segments import RFM_GROUPS
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
# (for this job's transaction only; it runs alone at night).
PG_WORK_MEM = "1GB"


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


def build_purchase_summary(session: Session, now: datetime, window_start: datetime) -> int:
    """Temporary table seg_summary: per member who bought by `now`, window RFM figures and the
    whole-history day numbers (first, last, distinct days) the model needs. Returns its rows."""
    session.execute(text("DROP TABLE IF EXISTS seg_summary"))
    # Two aggregations (per member and day, then per member). On PostgreSQL the day is the
    # expression of the index ix_purchases_member_business_day (the zone written out, as in the
    # index), so both read the index in order; were it missing, a sort does it (never a hash:
    # with a group for nearly every purchase the hash table spills to disk, measured slower).
    if is_postgres(session):
        zone = clock.business_tz().key.replace("'", "")
        day, day_no = f"timezone('{zone}', paid_at)::date", "{}(day) - DATE '2000-01-01'"
        session.execute(text("SET LOCAL enable_hashagg = off"))
    else:
        day, day_no = day_no_sql(session, "paid_at"), "{}(day)"
    session.execute(
        text(
            f"""
            CREATE TEMPORARY TABLE seg_summary AS
            SELECT member_id, CAST(SUM(frequency) AS BIGINT) AS frequency,
                   CAST(SUM(monetary_fen) AS BIGINT) AS monetary_fen,
                   MAX(last_paid_at) AS last_paid_at, {day_no.format("MIN")} AS first_day,
                   {day_no.format("MAX")} AS last_day, COUNT(*) AS n_days
            FROM (SELECT member_id, {day} AS day,
                         SUM(CASE WHEN paid_at >= :window_start THEN 1 ELSE 0 END) AS frequency,
                         SUM(CASE WHEN paid_at >= :window_start THEN amount_fen - refunded_fen
                                  ELSE 0 END) AS monetary_fen,
                         MAX(paid_at) AS last_paid_at
                  FROM purchases
                  WHERE paid_at <= :now AND (refunded_fen < amount_fen OR amount_fen = 0)
                  GROUP BY 1, 2) per_day
            GROUP BY member_id
            """
        ).bindparams(
            bindparam("now", type_=UTCDateTime()), bindparam("window_start", type_=UTCDateTime())
        ),
        {"now": now, "window_start": window_start, **tz_params(now)},
    )
    if is_postgres(session):
        session.execute(text("SET LOCAL enable_hashagg = on"))
        session.execute(text("ANALYZE seg_summary"))
    return int(session.execute(text("SELECT COUNT(*) FROM seg_summary")).scalar_one())


def model_summaries(session: Session, today: date) -> tuple:
    """Distinct (x, t_x, T) in days from seg_summary, with how many members share each."""
    import numpy as np  # imported here: numpy and scipy would slow every process's start-up

    # Several hundred thousand summaries come back: as four comma-separated texts that numpy
    # parses in C, not as a Python tuple per row.
    columns = session.execute(
        text(
            "SELECT string_agg(CAST(x AS TEXT), ','), string_agg(CAST(t_x AS TEXT), ','),"
            " string_agg(CAST(big_t AS TEXT), ','), string_agg(CAST(n AS TEXT), ',')"
            " FROM (SELECT n_days - 1 AS x, last_day - first_day AS t_x,"
            " :today - first_day AS big_t, COUNT(*) AS n"
            " FROM seg_summary GROUP BY 1, 2, 3) summaries"
            if is_postgres(session)
            else "SELECT group_concat(x), group_concat(t_x), group_concat(big_t), group_concat(n)"
            " FROM (SELECT n_days - 1 AS x, last_day - first_day AS t_x,"
            " :today - first_day AS big_t, COUNT(*) AS n"
            " FROM seg_summary GROUP BY 1, 2, 3) summaries"
        ),
        {"today": day_number(today)},
    ).one()
    if columns[0] is None:
        return tuple(np.zeros(0) for _ in range(4))
    x, t_x, big_t, count = (np.array(c.split(","), dtype=float) for c in columns)
    return x, t_x, big_t, count


def fit_purchase_model(session: Session, calibration_end: date):
    """Fit BG/NBD on every purchase up to the end of business day `calibration_end`.

    Repeat purchases are counted on distinct days; time is in weeks; T runs from each member's
    first purchase to `calibration_end`. Returns a bgnbd.BgNbdFit, or None when there are too
    few customers to fit.
    """
    end = clock.business_day_end(calibration_end) - timedelta(microseconds=1)
    build_purchase_summary(session, end, end)
    try:
        return _fit(session, calibration_end)[0]
    finally:
        session.execute(text("DROP TABLE IF EXISTS seg_summary"))


def _fit(session: Session, today: date):
    return _fit_summaries(model_summaries(session, today))


def _fit_summaries(summaries):
    """The fitted model (None with too few customers) and the distinct (x, t_x, T) in days."""
    from app.services import bgnbd

    x, t_x, big_t, count = summaries
    if count.sum() < MIN_CUSTOMERS_FOR_MODEL or not (x > 0).any():
        return None, (x, t_x, big_t)
    weeks = bgnbd.DAYS_PER_WEEK
    model = bgnbd.fit(x, t_x / weeks, big_t / weeks, count)
    return model, (x, t_x, big_t)


# The model's values are looked up by one integer made of (x, t_x, T): x * 2^40 + t_x * 2^20 + T
# (days; T and t_x stay below 2^20 days). Joining a million members on one integer is faster
# than on three expressions.
MODEL_KEY_SQL = (
    "(s.n_days - 1) * 1099511627776 + (s.last_day - s.first_day) * 1048576 + (:today - s.first_day)"
)


def _model_keys(x, t_x, big_t):
    return (x.astype("int64") << 40) + (t_x.astype("int64") << 20) + big_t.astype("int64")


def _model_values(model, triples):
    """(key, p_alive, expected purchases) per distinct (x, t_x, T), or None without a model."""
    from app.services import bgnbd

    if model is None:
        return None
    x, t_x, big_t = triples
    weeks = bgnbd.DAYS_PER_WEEK
    alive = bgnbd.p_alive(model, x, t_x / weeks, big_t / weeks)
    expected = bgnbd.expected_purchases(
        model, PREDICTION_DAYS / weeks, x, t_x / weeks, big_t / weeks
    )
    return _model_keys(x, t_x, big_t).tolist(), alive.tolist(), expected.tolist()


def _store_model_values(session: Session, values) -> None:
    """Temporary table seg_model: p_alive and expected purchases by model key."""
    session.execute(text("DROP TABLE IF EXISTS seg_model"))
    session.execute(
        text("CREATE TEMPORARY TABLE seg_model (k BIGINT, p_alive FLOAT, expected FLOAT)")
    )
    if values is None:
        return
    keys, alive, expected = values
    if is_postgres(session):
        # COPY of one text block: half a million rows in well under a second.
        null = "\\N"
        block = "".join(
            f"{k}\t{p!r}\t{null if e != e else repr(e)}\n"
            for k, p, e in zip(keys, alive, expected, strict=True)
        )
        cursor = session.connection().connection.driver_connection.cursor()
        with cursor.copy("COPY seg_model (k, p_alive, expected) FROM STDIN") as copy:
            copy.write(block)
        session.execute(text("ANALYZE seg_model"))
    else:
        session.execute(
            text("INSERT INTO seg_model VALUES (:k, :p_alive, :expected)"),
            [
                {"k": k, "p_alive": p, "expected": None if e != e else e}
                for k, p, e in zip(keys, alive, expected, strict=True)
            ],
        )


def _rfm_group_sql() -> str:
    """重要 = monetary above average; then recency (better than average) and frequency."""
    names = iter(RFM_GROUPS)
    cases = []
    for m_high in (1, 0):
        for r_high, f_high in ((1, 1), (1, 0), (0, 1), (0, 0)):
            cases.append(
                f"WHEN m_high = {m_high} AND r_high = {r_high} AND f_high = {f_high}"
                f" THEN '{next(names)}'"
            )
    return "CASE " + " ".join(cases) + " END"


SEGMENT_COLUMNS = (
    "member_id, lifecycle_stage, stage_since, rfm_group, r_score, f_score, m_score, recency_days,"
    " frequency, monetary_fen, p_alive, expected_purchases_90d, last_purchase_at, computed_at"
)


def score_members(connection, now: datetime, cfg: dict) -> None:
    """Temporary table seg_new: every member's new row but the model's odds (their model key
    instead); stage_since is kept while the stage stays the same. Runs on a Connection, since
    on PostgreSQL it runs in a thread while the model is fitted."""
    joined_day = day_no_sql(connection, "m.joined_at")
    entered = _date_fromday_no_sql(connection, "st.entered_day")
    rfm_group = _rfm_group_sql()
    # PostgreSQL: the flags computed before the three sorts, which then carry small rows.
    fence = "OFFSET 0" if is_postgres(connection) else ""
    connection.execute(text("DROP TABLE IF EXISTS seg_new"))
    sql = f"""
    CREATE TEMPORARY TABLE seg_new AS
    SELECT st.member_id, st.stage AS lifecycle_stage,
           CASE WHEN old.lifecycle_stage = st.stage THEN old.stage_since ELSE {entered} END
               AS stage_since,
           sc.rfm_group, sc.r_score, sc.f_score, sc.m_score,
           st.recency_days, COALESCE(st.frequency, 0) AS frequency,
           COALESCE(st.monetary_fen, 0) AS monetary_fen,
           st.model_key, st.last_paid_at AS last_purchase_at, :now AS computed_at
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
                   s.monetary_fen, s.last_paid_at, {MODEL_KEY_SQL} AS model_key
            FROM members m LEFT JOIN seg_summary s ON s.member_id = m.id
        ) b
    ) st
    LEFT JOIN member_segments old ON old.member_id = st.member_id
    LEFT JOIN (
        SELECT member_id, r_score, f_score, m_score, {rfm_group} AS rfm_group
        FROM (
            -- Oldest last purchase first: the longest recency gets R = 1.
            SELECT member_id, r_high, f_high, m_high,
                   NTILE(5) OVER (ORDER BY last_day, member_id) AS r_score,
                   NTILE(5) OVER (ORDER BY frequency, member_id) AS f_score,
                   NTILE(5) OVER (ORDER BY monetary_fen, member_id) AS m_score
            FROM (
                SELECT s.member_id, s.last_day, s.frequency, s.monetary_fen,
                       CASE WHEN s.last_day > a.last_day THEN 1 ELSE 0 END AS r_high,
                       CASE WHEN s.frequency > a.frequency THEN 1 ELSE 0 END AS f_high,
                       CASE WHEN s.monetary_fen > a.monetary_fen THEN 1 ELSE 0 END AS m_high
                FROM seg_summary s,
                     (SELECT AVG(last_day) AS last_day, AVG(frequency) AS frequency,
                             AVG(monetary_fen) AS monetary_fen
                      FROM seg_summary WHERE frequency > 0) a
                WHERE s.frequency > 0
                {fence}
            ) w
        ) scored
    ) sc ON sc.member_id = st.member_id
    """
    connection.execute(
        text(sql).bindparams(bindparam("now", type_=UTCDateTime())),
        {
            "now": now,
            "today": day_number(clock.business_date(now)),
            "new_days": int(cfg["new_days"]),
            "active_days": int(cfg["active_days"]),
            "lost_days": int(cfg["lost_days"]),
            **tz_params(now),
        },
    )


def write_segments(session: Session) -> None:
    """member_segments emptied and refilled from seg_new with the model's odds, in the refresh's
    transaction: nearly every row changes every night (recency and the odds move with each day),
    and emptying and inserting is several times faster than an upsert of a million rows.

    PostgreSQL: TRUNCATE leaves no million dead rows behind; readers wait for the commit (this
    INSERT, seconds) instead of reading yesterday's rows meanwhile.
    """
    session.execute(
        text("TRUNCATE member_segments" if is_postgres(session) else "DELETE FROM member_segments")
    )
    columns = SEGMENT_COLUMNS.replace(
        "p_alive, expected_purchases_90d", "md.p_alive, md.expected"
    ).replace("member_id,", "n.member_id,", 1)
    session.execute(
        text(
            f"INSERT INTO member_segments ({SEGMENT_COLUMNS}) SELECT {columns}"
            " FROM seg_new n LEFT JOIN seg_model md ON md.k = n.model_key"
        )
    )


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

        self.thread = threading.Thread(target=run, name="segments-scores", daemon=True)
        self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error


def refresh(session: Session, now: datetime) -> dict:
    """Recompute every member's stage, RFM scores and group, and odds of being active, as of
    `now`; one transaction. Returns counts for the job log, with the fitted model."""
    cfg = config(session)
    today = clock.business_date(now)
    if is_postgres(session):
        session.execute(text(f"SET LOCAL work_mem = '{PG_WORK_MEM}'"))
        # JIT compiling these few big statements costs seconds and saves none.
        session.execute(text("SET LOCAL jit = off"))
        # One refresh at a time (a second waits for the first); readers are never blocked.
        session.execute(text("LOCK TABLE member_segments IN SHARE ROW EXCLUSIVE MODE"))
    window_start = clock.business_day_start(today - timedelta(days=int(cfg["window_days"]) - 1))
    # Seconds per step, in the job's record: where a slow night went.
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    def lap(step: str) -> None:
        seconds[step] = time.perf_counter() - started - sum(seconds.values())

    buyers = build_purchase_summary(session, now, window_start)
    summaries = model_summaries(session, today)
    lap("summary")
    # PostgreSQL scores the members while Python fits the model: two cores, half the wait.
    scoring = _Background(session.connection(), score_members, now, cfg)
    try:
        model, triples = _fit_summaries(summaries)
        values = _model_values(model, triples)
        lap("fit")
    finally:
        scoring.join()  # the connection is the thread's until then, even if the fit failed
    lap("scores")
    _store_model_values(session, values)
    write_segments(session)
    lap("write")
    stages = dict(
        session.execute(
            text("SELECT lifecycle_stage, COUNT(*) FROM seg_new GROUP BY lifecycle_stage")
        ).all()
    )
    for table in ("seg_summary", "seg_model", "seg_new"):
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))
    session.commit()
    return {
        "buyers": buyers,
        **{stage: int(stages.get(stage, 0)) for stage in ("new", "active", "sleeping", "lost")},
        "model": model.as_dict() if model is not None else None,
        "seconds": {step: round(value, 2) for step, value in seconds.items()},
    }
