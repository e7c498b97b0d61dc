"""Keyset pagination with opaque cursors: newest first, stable under inserts."""

from __future__ import annotations

import base64
import json
from typing import Any, NamedTuple

from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.errors import AppError


class Page(NamedTuple):
    """One page of a listing; `schemas.common.page_schema` dumps it."""

    items: list[Any]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))["id"]
        if not isinstance(value, int):
            raise ValueError
        return value
    except (ValueError, KeyError, TypeError) as exc:
        raise AppError(
            "request.invalid",
            message="The cursor is not valid.",
            details={"cursor": ["Not valid."]},
        ) from exc


def page(session: Session, query: Select, id_column, limit: int, cursor: str | None) -> Page:
    """One page of `query` ordered by `id_column` descending."""
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(id_column < after)
    rows = session.execute(query.order_by(id_column.desc()).limit(limit + 1)).scalars().all()
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit and items else None
    return Page(items, next_cursor)
