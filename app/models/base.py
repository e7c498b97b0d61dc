"""Column types and helpers shared by every model module."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    TypeDecorator,
    bindparam,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column, scoped_session

from app import clock


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime, stored as timestamptz; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use app.clock")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


pk = Annotated[int, mapped_column(BigInteger, primary_key=True, autoincrement=True)]


def utcnow() -> datetime:
    return clock.now()


class CreatedAt:
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now(), nullable=False
    )


class InsertIgnoreResult:
    """What insert_ignore inserted: `rowcount` new rows, with their primary keys in `inserted`."""

    def __init__(self, inserted: list) -> None:
        self.inserted = inserted
        self.rowcount = len(inserted)


def insert_ignore(
    session: Session, model: Any, values: dict | list[dict], *conflict_cols: str
) -> InsertIgnoreResult:
    """INSERT ... ON CONFLICT DO NOTHING.

    The database, not Python, decides who won: `result.rowcount` is the number of rows that were
    new (counted with RETURNING, since drivers report -1 for this statement).
    """
    table = model.__table__
    single = isinstance(values, dict)
    stmt = _single_row_stmt(table, tuple(values), conflict_cols) if single else None
    if stmt is not None:
        # Hot path (check-in, ledger entries): SQLAlchemy cannot cache ON CONFLICT constructs,
        # so a single row goes through a textual statement built once per column set.
        return InsertIgnoreResult(list(session.execute(stmt, values).scalars()))
    stmt = insert(table).values(values)
    stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict_cols) or None)
    rows = session.execute(stmt.returning(list(table.primary_key.columns)[0])).all()
    return InsertIgnoreResult([row[0] for row in rows])


@functools.cache
def _single_row_stmt(table: Any, columns: tuple[str, ...], conflict_cols: tuple[str, ...]):
    """The textual statement for these columns, or None when an omitted column has a Python-side
    default (only the INSERT construct fills those in)."""
    if any(c.default is not None and c.name not in columns for c in table.columns):
        return None
    key = list(table.primary_key.columns)[0]
    target = f"({', '.join(conflict_cols)})" if conflict_cols else ""
    sql = (
        f'INSERT INTO "{table.name}" ({", ".join(columns)}) '
        f"VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT {target} DO NOTHING RETURNING {key.name}"
    )
    binds = [bindparam(c, type_=table.c[c].type) for c in columns]
    return text(sql).bindparams(*binds).columns(key)


def in_transaction(session: Session | scoped_session) -> bool:
    """Whether the session has begun a transaction (a scoped session asks its current one)."""
    if isinstance(session, scoped_session):
        session = session()
    return session.in_transaction()


__all__ = ["BigInteger", "CreatedAt", "UTCDateTime", "insert_ignore", "pk", "utcnow"]
