"""Idempotency-Key for every value-moving POST: one mechanism for the whole API.

Stripe's semantics: the key, the work and the answer commit in ONE transaction. The handler's
transaction first inserts the key's row, then runs the use case (services flush, never commit),
then stores the answer in the row and commits once. So either everything happened and the answer
is on record, or nothing happened and the key is free: a retry after a lost answer (the worker
killed after the commit, before the reply) gets the original answer back, and a retry after a
failure runs the work afresh. There is no claim to release and none left pending.

- The same key and body replays the stored answer (same status and body, header
  `Idempotent-Replayed: true`); the same key with another body is 409 `idempotency.mismatch`.
- A second request with the key while the first is still running is 409
  `idempotency.in_progress` with `Retry-After: 1` (a transaction-scoped advisory lock per key:
  the second neither waits on the first nor runs the work).
- A business refusal (an AppError, 4xx) is an answer too: the work is rolled back to a savepoint
  taken after the key's row, and the refusal is stored and replayed with its Retry-After. A
  request whose fields do not validate, a rate-limited one (429 rate.limited: the work did not
  run), a 5xx or a crash stores nothing (the key stays unused, and its retry runs).
- A replay is answered before any rate limit: an endpoint's `per_caller` limit goes inside this
  decorator, so the replay of an answered draw is never 429.
- The key's lock lives and dies with the transaction: when the database drops the connection (a
  restart, a cut), the key is free at once and the retry runs.
- A transaction aborted by PostgreSQL for a deadlock or a serialization failure runs again,
  whole: claim, work, answer (app.unit_of_work.retrying, 3 attempts).

Without a key the handler still runs as one unit of work: committed once if it answered, rolled
back if it raised.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from datetime import timedelta

from flask import Response, current_app, g, make_response, request
from sqlalchemy import delete, select, text, update

from app import clock
from app.errors import AppError, render_error
from app.extensions import db
from app.models.base import UTCDateTime
from app.models.idempotency import IdempotencyKey
from app.unit_of_work import KeyClaim, KeyTaken, atomic, folded, retrying

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=48)  # the contract promises at least 24 hours
# The first key of the two-key advisory locks taken per Idempotency-Key (the two-int space does
# not overlap the one-bigint space that other locks use).
_LOCK_CLASS = 0x1DE
# Test-only (honoured when TESTING): the path of a file that, when present, makes the process
# exit right after the commit and before the reply -- one request's lost answer.
KILL_AFTER_COMMIT = "HY_TEST_KILL_AFTER_COMMIT"

# The key's claim as CTEs: its advisory lock (tried, never waited for), then its row, inserted
# only under the lock and only if the key is new. `key_claimed` is one row: got, id.
_CLAIM_CTES = f"""
    key_lock AS MATERIALIZED (
        SELECT pg_try_advisory_xact_lock(
            {_LOCK_CLASS}, hashtext(CAST(:ik_scope AS text) || ' ' || CAST(:ik_key AS text))
        ) AS got
    ), key_row AS (
        INSERT INTO idempotency_keys (scope, key, fingerprint, state, locked_at, created_at)
        SELECT :ik_scope, :ik_key, :ik_fingerprint, 'pending', CAST(:ik_now AS timestamptz),
               CAST(:ik_now AS timestamptz)
        FROM key_lock WHERE key_lock.got
        ON CONFLICT (scope, key) DO NOTHING
        RETURNING id
    ), key_claimed AS MATERIALIZED (
        SELECT key_lock.got, key_row.id FROM key_lock LEFT JOIN key_row ON true
    )"""
_CLAIM = text(f"WITH {_CLAIM_CTES} SELECT got, id FROM key_claimed")


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


def idempotent(fn: Callable | None = None, *, folded: bool = False) -> Callable:
    """Honour the Idempotency-Key header on this endpoint (inside an auth decorator), and commit
    the endpoint's work once, at the end. A transaction that PostgreSQL aborts for a deadlock or
    a serialization failure runs again, whole (unit_of_work.retrying). Rate limits go inside
    this decorator: a replay is answered before them, and a rate-limited request stores nothing.

    `folded=True`: the use case is one statement that carries the key's claim itself
    (unit_of_work.KeyClaim) and refuses before it writes or with a statement that wrote nothing,
    so a keyed request costs one statement more than an unkeyed one (the answer's UPDATE): no
    claim of its own, no savepoint."""
    if fn is None:
        return functools.partial(idempotent, folded=folded)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return retrying(db.session, lambda: _unit_of_work(fn, args, kwargs), request.path)
        key = key.strip()
        if not key or len(key) > 255:
            raise AppError(
                "request.invalid",
                422,
                "Idempotency-Key must be 1 to 255 characters.",
                {HEADER: ["Must be 1 to 255 characters."]},
            )
        attempt = _keyed_folded if folded else _keyed
        return retrying(db.session, lambda: attempt(fn, args, kwargs, key), request.path)

    return wrapper


def _keyed(fn: Callable, args, kwargs, key: str):
    """One attempt: claim the key, run the work, store the answer, commit."""
    session = db.session
    try:
        row_id = _claim(g.auth_scope, key, request_fingerprint())
        if isinstance(row_id, Response):
            session.rollback()
            return row_id
        return _run_and_store(fn, args, kwargs, row_id)
    except BaseException:
        session.rollback()
        raise


def _keyed_folded(fn: Callable, args, kwargs, key: str):
    """One attempt of a folded endpoint: the work's statement claims the key; store, commit."""
    session = db.session
    fingerprint = request_fingerprint()
    claim = KeyClaim(
        _CLAIM_CTES,
        {"ik_scope": g.auth_scope, "ik_key": key, "ik_fingerprint": fingerprint, "ik_now": _now()},
    )
    try:
        with folded(session, claim):
            try:
                response = make_response(fn(*args, **kwargs))
            except KeyTaken:
                if not claim.got:
                    raise _in_progress() from None
                # The key has a row: replay it, refuse a mismatch, or (left pending by the
                # mechanism before this one) do the work now, under the lock just got.
                row_id = _existing(g.auth_scope, key, fingerprint)
                if isinstance(row_id, Response):
                    session.rollback()
                    return row_id
                return _run_and_store(fn, args, kwargs, row_id)
            except AppError as err:
                if not _is_an_answer(err.status, err.code):
                    raise
                if not claim.ran:  # refused before its statement: claim the key now
                    row_id = _claim(g.auth_scope, key, fingerprint)
                    if isinstance(row_id, Response):
                        session.rollback()
                        return row_id
                    return _store(render_error(err), row_id)
                response = render_error(err)  # the statement that refused wrote nothing
    except BaseException:
        session.rollback()
        raise
    if not claim.ran:  # an answer without the key's claim: the work ran outside its lock
        session.rollback()
        raise RuntimeError("a folded endpoint answered without claiming its Idempotency-Key")
    return _store(response, claim.row_id)


def _run_and_store(fn: Callable, args, kwargs, row_id: int):
    """The work (not folded: the key is held already) behind a savepoint, and its answer."""
    session = db.session
    with atomic(session) as savepoint:
        try:
            response = make_response(fn(*args, **kwargs))
        except AppError as err:
            if not _is_an_answer(err.status, err.code):
                raise
            # A business refusal is an answer too: replaying the key gives it again.
            savepoint.rollback()
            response = render_error(err)
    return _store(response, row_id)


def _store(response: Response, row_id: int) -> Response:
    """Store the answer in the key's row and commit the work with it (a 5xx: roll back)."""
    session = db.session
    if response.status_code >= 500:
        session.rollback()
        return response
    stored = session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row_id)
        .values(
            state="done",
            status_code=response.status_code,
            response_body=_stored_body(response),
        )
        .returning(IdempotencyKey.id)
    ).scalar_one_or_none()
    if stored is None:  # the work ended the transaction that held the key: a bug
        session.rollback()
        raise RuntimeError("the Idempotency-Key's row left the transaction of the work")
    session.commit()
    _exit_if_told_to()
    return response


def _is_an_answer(status: int, code: str) -> bool:
    """Whether a refusal is the request's answer, stored for replay: not a 5xx (the work could
    not run; its retry must) and not a rate limit (pacing: the work did not run either)."""
    return status < 500 and code != "rate.limited"


def _unit_of_work(fn: Callable, args, kwargs):
    """One attempt without a key: the work, committed once if it answered."""
    session = db.session
    try:
        response = make_response(fn(*args, **kwargs))
    except BaseException:
        session.rollback()
        raise
    if response.status_code >= 500:
        session.rollback()
        return response
    session.commit()
    _exit_if_told_to()
    return response


def _claim(scope: str, key: str, fingerprint: str) -> int | Response:
    """Insert the key's row in this transaction: its id, or the stored answer to replay.

    409 idempotency.in_progress while another transaction holds the key, 409
    idempotency.mismatch when the key was used with another request."""
    session = db.session
    got, row_id = session.execute(
        _CLAIM,
        {"ik_scope": scope, "ik_key": key, "ik_fingerprint": fingerprint, "ik_now": _now()},
    ).one()
    if not got:
        raise _in_progress()
    if row_id is not None:
        return row_id
    return _existing(scope, key, fingerprint)


def _now():
    # UTCDateTime's rule (an aware instant, in UTC) applied here: the folded statement's
    # parameters join the use case's, untyped.
    return UTCDateTime().process_bind_param(clock.now(), None)


def _existing(scope: str, key: str, fingerprint: str) -> int | Response:
    """A key that has a row (we hold its lock): the stored answer, a mismatch, or its id."""
    session = db.session
    row = session.execute(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    ).scalar_one()
    if row.fingerprint != fingerprint:
        raise AppError(
            "idempotency.mismatch",
            409,
            "This Idempotency-Key was used with a different request.",
        )
    if row.state != "done":
        # Left pending by the mechanism before this one (claim and answer in two transactions)
        # when its worker died: nobody holds it (we hold its lock), so this request does the work.
        return row.id
    return replay_response(row)


def _in_progress() -> AppError:
    return AppError(
        "idempotency.in_progress",
        409,
        "A request with this Idempotency-Key is still being processed.",
        headers={"Retry-After": "1"},
    )


# Headers that are part of an answer and come back with its replay (a 429's Retry-After). They are
# kept in `response_body` ahead of the body, as HTTP writes them ("Name: value" lines, then an
# empty line): a stored JSON body starts with "{" or "[" (or is empty), so a stored text that
# starts otherwise carries headers, and rows written before this read as they were.
REPLAYED_HEADERS = ("Retry-After", "Location")


def _stored_body(response: Response) -> str:
    body = response.get_data(as_text=True)
    kept = [(name, response.headers[name]) for name in REPLAYED_HEADERS if name in response.headers]
    if not kept:
        return body
    return "".join(f"{name}: {value}\r\n" for name, value in kept) + "\r\n" + body


def _split_stored(stored: str) -> tuple[list[tuple[str, str]], str]:
    if not stored or stored[0] in "{[" or "\r\n\r\n" not in stored:
        return [], stored
    head, body = stored.split("\r\n\r\n", 1)
    headers = []
    for line in head.split("\r\n"):
        name, _, value = line.partition(": ")
        headers.append((name, value))
    return headers, body


def replay_response(row: IdempotencyKey) -> Response:
    headers, body = _split_stored(row.response_body or "")
    response = Response(body, status=row.status_code or 200, mimetype="application/json")
    for name, value in headers:
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _exit_if_told_to() -> None:
    """Tests of a lost answer: die between the commit and the reply, once per armed file."""
    if not current_app.config.get("TESTING"):
        return
    path = os.environ.get(KILL_AFTER_COMMIT)
    if not path:
        return
    try:
        os.unlink(path)  # one request dies per arming, even with several threads
    except FileNotFoundError:
        return
    os._exit(17)


def purge_expired_keys(session, now=None) -> int:
    """Delete keys older than KEEP_FOR; returns how many."""
    cutoff = (now or clock.now()) - KEEP_FOR
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    session.commit()
    return result.rowcount or 0
