"""The BG/NBD model on the members' purchase summaries: the distinct purchase patterns read from
the database, the fit (services.segments.bgnbd), and its figures per pattern stored for the
members' rows to point to (segment_model_values, by model key).

Patterns are (x, t_x, T) in days: x repeat purchase days, t_x the day of the last one and T
today, both counted from the first purchase; the model works in weeks.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from app import clock
from app.services.segments import bgnbd
from app.services.segments.sql import day_number, model_key_sql, model_keys
from app.services.segments.summaries import run_summary, summary_select

PREDICTION_DAYS = 90
MIN_CUSTOMERS_FOR_MODEL = 20


def model_summaries(
    session: Session, today: date, table: str = "member_purchase_summaries"
) -> tuple:
    """Distinct (x, t_x, T) in days from a summary table, with how many members share each.

    Grouped by numpy: with nearly a group per member, PostgreSQL's GROUP BY of a million
    summaries took 1.3 s; reading the columns packed and sorting one integer key, about 0.6 s.
    """
    # One bytea of big-endian int8s, each the model key x * 2^40 + t_x * 2^20 + T (a row per
    # member through the driver, or COPY, costs seconds of Python; three columns, twice one).
    packed = session.execute(
        text(f"SELECT string_agg(int8send({model_key_sql()}), '') FROM {table}"),
        {"today": day_number(today)},
    ).scalar_one()
    keys = np.frombuffer(packed or b"", dtype=">i8").astype(np.int64)
    x, t_x, big_t = keys >> 40, (keys >> 20) & 0xFFFFF, keys & 0xFFFFF
    _, first, count = np.unique(keys, return_index=True, return_counts=True)
    return (
        x[first].astype(float),
        t_x[first].astype(float),
        big_t[first].astype(float),
        count.astype(float),
    )


def fit_purchase_model(session: Session, calibration_end: date) -> bgnbd.BgNbdFit | None:
    """Fit BG/NBD on every purchase up to the end of business day `calibration_end`.

    Repeat purchases are counted on distinct days; time is in weeks; T runs from each member's
    first purchase to `calibration_end`. Returns the fit, or None when there are too few
    customers to fit. Leaves the refresh's summaries alone (a temporary table of its own).
    """
    end = clock.business_day_end(calibration_end) - timedelta(microseconds=1)
    session.execute(text("DROP TABLE IF EXISTS seg_calibration"))
    sql = "CREATE TEMPORARY TABLE seg_calibration AS " + summary_select()
    run_summary(session, sql, end, end)
    try:
        return _fit_summaries(model_summaries(session, calibration_end, "seg_calibration"))[0]
    finally:
        session.execute(text("DROP TABLE IF EXISTS seg_calibration"))


def _fit_summaries(summaries, start: dict | None = None):
    """The fit (None with too few customers) and the distinct (x, t_x, T) in days; the
    optimiser starts from `start` (the last fit's parameters) when given. A fit with
    `not_fitted` set is returned as it is, for the record: its odds are not used."""
    x, t_x, big_t, count = summaries
    if count.sum() < MIN_CUSTOMERS_FOR_MODEL or not (x > 0).any():
        return None, (x, t_x, big_t)
    weeks = bgnbd.DAYS_PER_WEEK
    model = bgnbd.fit(x, t_x / weeks, big_t / weeks, count, start=start)
    return model, (x, t_x, big_t)


def not_fitted_reason(model: bgnbd.BgNbdFit | None, buyers: int) -> str | None:
    """Why the night has no odds of buying again (the segments fall back to RFM alone)."""
    if model is None:
        return f"too few buyers to fit ({buyers}; at least {MIN_CUSTOMERS_FOR_MODEL})"
    return model.not_fitted


def _model_values(model, triples):
    """(key, p_alive, expected purchases) arrays per distinct (x, t_x, T), or None without a
    model; an expected count that cannot be computed is NaN."""
    if model is None:
        return None
    x, t_x, big_t = triples
    weeks = bgnbd.DAYS_PER_WEEK
    alive = bgnbd.p_alive(model, x, t_x / weeks, big_t / weeks)
    expected = bgnbd.expected_purchases(
        model, PREDICTION_DAYS / weeks, x, t_x / weeks, big_t / weeks
    )
    return model_keys(x, t_x, big_t), alive, expected


def _binary_copy(keys, alive, expected) -> bytes:
    """PostgreSQL's binary COPY of (k, p_alive, expected) rows, built by numpy in one go (the
    text form cost 1.5 s of Python for 700,000 rows); NaN expected counts become NULL."""
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
    """The model's figures into segment_model_values_next, keyed and analysed, which the refresh
    swaps in for segment_model_values (empty without a model)."""
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
    usable = model if model is not None and model.not_fitted is None else None
    store_model_values(connection, _model_values(usable, triples))
    return model, int(summaries[3].sum())
