"""SQL helpers of the segments refresh and its report: business day numbers, the zone's
parameter, instants bound as UTC, the model key, and the settings of the refresh's transactions.

Days are business days (BUSINESS_TZ); day numbers count from 2000-01-01.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, text
from sqlalchemy.sql.elements import TextClause

from app import clock
from app.models.base import UTCDateTime

EPOCH = date(2000, 1, 1)
# Enough memory to sort ten million purchases and hash a million members in memory (for the
# refresh's transactions only; it runs alone at night).
WORK_MEM = "1GB"


def day_number(day: date) -> int:
    return (day - EPOCH).days


def day_no_sql(column: str) -> str:
    """SQL for the business day number of a UTC timestamp column (the zone bound as :tz)."""
    return f"(({column} AT TIME ZONE :tz)::date - DATE '2000-01-01')"


def date_from_day_no_sql(expression: str) -> str:
    """SQL for the date of a business day number."""
    return f"(DATE '2000-01-01' + CAST({expression} AS INTEGER))"


def tz_params() -> dict:
    """The :tz parameter of day_no_sql."""
    return {"tz": clock.business_tz().key}


def timed(sql: str, *names: str) -> TextClause:
    """text(sql) with the named parameters bound as instants (aware, stored as UTC)."""
    return text(sql).bindparams(*(bindparam(name, type_=UTCDateTime()) for name in names))


def tune_for_refresh(connection) -> None:
    """The refresh's settings, for the current transaction of `connection`."""
    connection.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    # JIT compiling these few big statements costs seconds and saves none.
    connection.execute(text("SET LOCAL jit = off"))


# The model's values are looked up by one integer made of (x, t_x, T): x * 2^40 + t_x * 2^20 + T
# (days; T and t_x stay below 2^20 days, 2,870 years). Joining a million members on one integer
# is faster than on three expressions. Every term is 64-bit: the day columns are int4, and
# t_x * 2^20 in int4 overflows once a member's first and last purchases are 2,048 days apart
# (imported history, a back-dated order), which failed the whole night for everyone.
def model_key_sql(table: str = "") -> str:
    """The model key of a summary row (of `table`, the alias, if given), T counted to :today."""
    s = f"{table}." if table else ""
    return (
        f"CAST({s}n_days - 1 AS BIGINT) * 1099511627776"
        f" + CAST({s}last_day - {s}first_day AS BIGINT) * 1048576"
        f" + CAST(CAST(:today AS BIGINT) - {s}first_day AS BIGINT)"
    )


def model_keys(x, t_x, big_t):
    """The model keys of numpy arrays of x, t_x and T (days), as model_key_sql makes them."""
    return (x.astype("int64") << 40) + (t_x.astype("int64") << 20) + big_t.astype("int64")
