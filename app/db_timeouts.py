"""Every wait on PostgreSQL has an end, even when the database never answers.

A database that is down refuses connections at once; one that hangs (a stalled disk, a paused
VM, a frozen process) keeps every connection open and answers nothing, and without limits each
request waits for the whole hang: measured with the server stopped by SIGSTOP, every API request
hung for as long as the client waited (tests/faults/test_freezes.py). So each connection gets:

- server-side limits, sent at connect (`options`): `statement_timeout`, `lock_timeout` and
  `idle_in_transaction_session_timeout` (what a slow query or a lock queue may take, and a
  forgotten transaction may hold its locks);
- TCP keepalives and `tcp_user_timeout`: a dead host or a cut network is noticed by the kernel,
  for idle connections and for writes that are never acknowledged;
- a client-side deadline on every answer (`BoundedConnection`): a frozen server still runs a
  kernel that acknowledges packets and answers keepalives, and its own statement_timeout cannot
  fire, so only the client can give up. The deadline is the statement timeout plus
  `GRACE_SECONDS`, so a slow statement is always ended by the server first (a clean error, the
  connection kept); when the deadline passes the connection is closed (its state is unknown) and
  the pool replaces it.

API sessions use the API's limits. Processes that run jobs (the scheduler, `jobs run-once`, the
RQ worker, imports, migrations) run inside `job_timeouts`: the nightly segments refresh or an
import legitimately runs statements for minutes and keeps a lock connection idle in a
transaction, so their sessions get the job statement timeout and no lock or idle limit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from flask import Flask
from psycopg import errors as pg_errors
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.extensions import db

GRACE_SECONDS = 1.0
_STATE = "huiyuan_db_timeouts"


@dataclass(frozen=True)
class SessionTimeouts:
    """A session's limits in seconds; 0 is none."""

    statement: float
    lock: float = 0
    idle_in_transaction: float = 0
    grace: float = GRACE_SECONDS

    def options(self) -> str:
        def ms(seconds: float) -> int:
            return int(round(seconds * 1000))

        return (
            f"-c statement_timeout={ms(self.statement)} -c lock_timeout={ms(self.lock)}"
            f" -c idle_in_transaction_session_timeout={ms(self.idle_in_transaction)}"
        )

    @property
    def answer_within(self) -> float | None:
        """The client's deadline for any one answer: after the server's own limit fired."""
        return self.statement + self.grace if self.statement else None


class BoundedConnection(psycopg.Connection):
    """A psycopg connection that waits at most `answer_within` seconds for each answer."""

    answer_within: float | None = None

    def wait(self, gen, interval=0.1, timeout=None):
        limit = timeout if timeout is not None else self.answer_within
        try:
            return super().wait(gen, interval=interval, timeout=limit)
        except pg_errors._WaitTimeout:  # psycopg's own, raised only for the timeout given
            # Half a conversation is left on the wire: this connection cannot be used again.
            # Closed, it counts as a disconnect, and SQLAlchemy renews the pool.
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"the database did not answer within {limit:g} s; connection closed"
            ) from None


@dataclass
class _Bounds:
    """What a new connection of an engine gets (the current profile can change: jobs)."""

    session: SessionTimeouts
    libpq: dict


def bound_connections(engine: Engine, session: SessionTimeouts, libpq: dict) -> _Bounds:
    """Every new connection of `engine` is a BoundedConnection with `session`'s limits and the
    libpq parameters `libpq` (connect_timeout, keepalives); what the URL says wins."""
    bounds = _Bounds(session, libpq)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        for name, value in bounds.libpq.items():
            cparams.setdefault(name, value)
        cparams["options"] = " ".join(
            o for o in (cparams.get("options"), bounds.session.options()) if o
        )
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.answer_within = bounds.session.answer_within
        return connection

    return bounds


def init_db_timeouts(app: Flask, engine: Engine) -> None:
    """Bound the app's connections with the API's limits (app.config, from app.config's env)."""
    app.extensions[_STATE] = bound_connections(
        engine, SessionTimeouts(**app.config["DB_API_TIMEOUTS"]), app.config["DB_LIBPQ_PARAMS"]
    )


@contextlib.contextmanager
def job_timeouts(app: Flask) -> Iterator[None]:
    """While the block runs, this process's connections are job sessions (the job statement
    timeout, no lock or idle-in-transaction limit); after it, the API's again. The pool is emptied
    at each switch so no connection keeps the other profile's limits. A command that runs a job
    wraps the job in it, so a command run inside another process (tests) leaves that process as
    it found it."""
    bounds = app.extensions.get(_STATE)
    if bounds is None:
        yield
        return
    before = bounds.session
    _switch(app, bounds, SessionTimeouts(**app.config["DB_JOB_TIMEOUTS"]))
    try:
        yield
    finally:
        _switch(app, bounds, before)


def _switch(app: Flask, bounds: _Bounds, session: SessionTimeouts) -> None:
    bounds.session = session
    with app.app_context():
        db.engine.dispose()
