"""Keyset pagination: newest first, stable under inserts.

A page ends at an id; the next page starts after it. The client sees that position only as an
opaque cursor, the id signed with the app's SECRET_KEY (HMAC, itsdangerous): a cursor this
service did not hand out — edited, forged, from another deployment — is refused, never turned
into a query. `schemas.common.Cursor` is the one field that signs and checks it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Select
from sqlalchemy.orm import Session

# Every id is a PostgreSQL bigint; the salt keeps a cursor from being any other signed value.
MAX_ID = 2**63 - 1
_SALT = "huiyuan.pagination.cursor"


class Page(NamedTuple):
    """One page of a listing; `schemas.common.page_schema` dumps it. `next_cursor` is the id the
    next page starts after (None on the last page), signed when dumped."""

    items: list[Any]
    next_cursor: int | None


def encode_cursor(last_id: int, secret: str) -> str:
    return URLSafeSerializer(secret, salt=_SALT).dumps(last_id)


def decode_cursor(cursor: str, secret: str) -> int:
    """The id a cursor from `encode_cursor` holds; ValueError for anything else."""
    try:
        value = URLSafeSerializer(secret, salt=_SALT).loads(cursor)
    except (BadSignature, UnicodeError) as exc:
        raise ValueError("not a cursor of ours") from exc
    # Signed by us, so an id we wrote; checked anyway, as a query must never see a bool or a
    # number PostgreSQL cannot compare with a bigint.
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise ValueError("not a cursor of ours")
    return value


def page(session: Session, query: Select, id_column, limit: int, after: int | None) -> Page:
    """One page of `query` ordered by `id_column` descending, after the id `after` if given."""
    if after is not None:
        query = query.where(id_column < after)
    rows = session.execute(query.order_by(id_column.desc()).limit(limit + 1)).scalars().all()
    items = rows[:limit]
    next_cursor = items[-1].id if len(rows) > limit and items else None
    return Page(items, next_cursor)
