"""The nightly segments refresh: RFM, lifecycle stage and the BG/NBD odds for every member.

Set-based, in two transactions. First, per-member purchase summaries (member_purchase_summaries,
kept between nights) are brought to tonight (summaries.py). Then, at once on two connections:
every member's row (one CREATE TABLE AS, after the quintile cut points: scoring.py), and the
BG/NBD model, fitted in Python on the distinct (x, t_x, T) summaries, with its figures per
purchase pattern (model.py); both new tables replace last night's at one commit. This module
only orchestrates; SQL helpers are in sql.py, what marketing reads in report.py.

Purchases count when paid at or before `now` and not fully refunded; money is net of refunds.
Days are business days (BUSINESS_TZ).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from app import clock
from app.models.segments import SegmentState
from app.services import programs
from app.services.segments import report, scoring
from app.services.segments.sql import tune_for_refresh
from app.services.segments.summaries import update_summaries

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

# One refresh at a time (a second waits for the first); the key of its advisory lock.
REFRESH_LOCK = 4_815_162_342


def config(session: Session) -> dict:
    return programs.get_config(session, "segments")


def swap_in(session: Session) -> None:
    """The new member_segments and segment_model_values take the old ones' places; readers wait
    only for the renames, at commit."""
    for table in ("member_segments", "segment_model_values"):
        for statement in (
            f"DROP TABLE {table}",
            f"ALTER TABLE {table}_next RENAME TO {table}",
            f"ALTER TABLE {table} RENAME CONSTRAINT {table}_next_pkey TO pk_{table}",
        ):
            session.execute(text(statement))


class _Background:
    """Run fn(connection, *args) in a thread; the caller must leave the connection alone until
    join(), which re-raises what the thread raised."""

    def __init__(self, connection, fn, *args) -> None:
        self.error: BaseException | None = None

        def run() -> None:
            try:
                fn(connection, *args)
            except BaseException as error:  # re-raised in the caller's thread by join()
                self.error = error

        self.thread = threading.Thread(target=run, name="segments-write", daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


@contextlib.contextmanager
def _one_at_a_time(session: Session) -> Iterator[None]:
    """A session-level advisory lock, on a connection of its own (the refresh commits twice, and
    its session may change connections in between)."""
    with session.get_bind().connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": REFRESH_LOCK})
        try:
            yield
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": REFRESH_LOCK})
            lock.commit()


def refresh(session: Session, now: datetime, full: bool = False) -> dict:
    """Recompute every member's stage, RFM scores and group, and odds of being active, as of
    `now`. The per-member purchase summaries are brought forward from the last refresh (rebuilt
    from all purchases with `full`, or when they cannot be brought forward) and committed; then,
    in a second transaction, every member's row and the model's figures, which replace last
    night's together. Returns counts for the job log, with the fitted model."""
    # Imported here, not at the top: the model's scipy adds 0.7 s (warm; 1.5 s cold) to the
    # start of every process that imports this package (each API worker does, for config and
    # the report), and only the nightly job needs it.
    from app.services.segments import model as bgnbd_model

    cfg = config(session)
    today = clock.business_date(now)
    window_start = clock.business_day_start(today - timedelta(days=int(cfg["window_days"]) - 1))
    # Seconds per step, in the job's record: where a slow night went.
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    def lap(step: str) -> None:
        seconds[step] = time.perf_counter() - started - sum(seconds.values())

    with _one_at_a_time(session):
        tune_for_refresh(session.connection())
        summary = update_summaries(session, now, window_start, full)
        start = session.get(SegmentState, 1).model
        # Committed on their own: both halves below read them, from two connections at once.
        session.commit()
        lap("summaries")
        # PostgreSQL writes every member's row while Python fits the model on a second
        # connection, committed on its own: two cores, half the wait.
        connection = session.connection()
        tune_for_refresh(connection)
        writing = _Background(connection, scoring.write_segments, now, cfg)
        try:
            with session.get_bind().begin() as model_connection:
                tune_for_refresh(model_connection)
                model, buyers = bgnbd_model.fit_model(model_connection, today, start)
            lap("model")
        finally:
            writing.join()  # the connection is the thread's until then, even if the fit failed
        lap("write")
        swap_in(session)
        if model is not None:  # where tomorrow's fit starts, on a bound or not
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
        # The report's figures for the default period, on tonight's segments (still under the
        # lock: no other refresh swaps in between), in a transaction of their own.
        tune_for_refresh(session.connection())
        report.store(session, now)
        session.commit()
        lap("report")
    return {
        "buyers": buyers,
        "summaries_recomputed": "all" if summary["full"] else summary["recomputed"],
        "summaries_new_sales": summary["merged"],
        "summaries_out_of_window": summary["moved"],
        **{stage: int(stages.get(stage, 0)) for stage in ("new", "active", "sleeping", "lost")},
        # A fit on a bound is recorded with its reason but gives no odds: RFM alone tonight.
        "model": model.as_dict() if model is not None and model.not_fitted is None else None,
        "model_not_fitted": bgnbd_model.not_fitted_reason(model, buyers),
        "model_on_bound": model.as_dict() if model is not None and model.not_fitted else None,
        "seconds": {step: round(value, 2) for step, value in seconds.items()},
    }
