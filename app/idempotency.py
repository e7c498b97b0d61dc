"""Idempotency-Key for every value-moving POST: one mechanism for the whole API.

The key is claimed in its own committed row before the work runs, and the answer is stored after
it. The same key and body replays the stored answer; the same key with another body is 409
`idempotency.mismatch`. A claim left pending by a crashed worker is taken over after
`STALE_AFTER`; the work itself is idempotent by its own unique references, so that is safe.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from datetime import timedelta

from flask import Response, g, request
from sqlalchemy import delete, select, update

from app import clock
from app.errors import AppError, render_error
from app.extensions import db
from app.models.base import insert_ignore
from app.models.idempotency import IdempotencyKey

HEADER = "Idempotency-Key"
# Longer than any request runs. A request that failed while the database was down may leave
# its claim pending (it could not delete it); a retry takes the claim over after this.
STALE_AFTER = timedelta(seconds=float(os.environ.get("IDEMPOTENCY_STALE_SECONDS", "30")))
KEEP_FOR = timedelta(hours=48)  # the contract promises at least 24 hours


def request_fingerprint() -> str:
    body = request.get_data(cache=True) or b""
    try:
        # Canonical JSON, so that key order and whitespace do not make "another body".
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        pass
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), body):
        digest.update(part)
        digest.update(b"\x00")
    return digest.hexdigest()


def idempotent(fn: Callable) -> Callable:
    """Honour the Idempotency-Key header on this endpoint (inside an auth decorator)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return fn(*args, **kwargs)
        key = key.strip()
        if not key or len(key) > 255:
            raise AppError(
                "request.invalid",
                422,
                "Idempotency-Key must be 1 to 255 characters.",
                {HEADER: ["Must be 1 to 255 characters."]},
            )
        scope = g.auth_scope
        fingerprint = request_fingerprint()
        try:
            row_id = _claim(scope, key, fingerprint)
        except _Replay as replay:
            return replay_response(replay)
        try:
            response = _run(fn, args, kwargs)
        except Exception:
            db.session.rollback()
            _release(row_id)
            raise
        if response.status_code >= 500:
            _release(row_id)
            return response
        db.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == row_id)
            .values(
                state="done",
                status_code=response.status_code,
                response_body=response.get_data(as_text=True),
            )
        )
        db.session.commit()
        return response

    return wrapper


def _run(fn: Callable, args, kwargs) -> Response:
    from flask import make_response

    try:
        return make_response(fn(*args, **kwargs))
    except AppError as err:
        # A business refusal is an answer too: replaying the key gives the same refusal.
        db.session.rollback()
        return render_error(err)


def _claim(scope: str, key: str, fingerprint: str) -> int:
    now = clock.now()
    inserted = insert_ignore(
        db.session,
        IdempotencyKey,
        {
            "scope": scope,
            "key": key,
            "fingerprint": fingerprint,
            "state": "pending",
            "locked_at": now,
            "created_at": now,
        },
        "scope",
        "key",
    )
    db.session.commit()
    row = db.session.execute(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    ).scalar_one()
    if inserted.rowcount == 1:
        return row.id
    if row.fingerprint != fingerprint:
        raise AppError(
            "idempotency.mismatch",
            409,
            "This Idempotency-Key was used with a different request.",
        )
    if row.state == "done":
        raise _Replay(row)
    # Pending: another request holds it, or its worker died. Take over only a stale claim,
    # and only if nobody else took it over first (conditional update).
    if row.locked_at > now - STALE_AFTER:
        raise AppError(
            "idempotency.in_progress",
            409,
            "A request with this Idempotency-Key is still being processed.",
            headers={"Retry-After": "1"},
        )
    taken = db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row.id, IdempotencyKey.locked_at == row.locked_at)
        .values(locked_at=now)
    )
    db.session.commit()
    if taken.rowcount != 1:
        raise AppError(
            "idempotency.in_progress",
            409,
            "A request with this Idempotency-Key is still being processed.",
            headers={"Retry-After": "1"},
        )
    return row.id


def _release(row_id: int) -> None:
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
    db.session.commit()


class _Replay(Exception):
    def __init__(self, row: IdempotencyKey) -> None:
        super().__init__("replay")
        self.row = row


def replay_response(exc: _Replay) -> Response:
    response = Response(
        exc.row.response_body or "",
        status=exc.row.status_code or 200,
        mimetype="application/json",
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response


def purge_expired_keys(session, now=None) -> int:
    """Delete keys older than KEEP_FOR; returns how many."""
    cutoff = (now or clock.now()) - KEEP_FOR
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    session.commit()
    return result.rowcount or 0
