"""Pooled connections are checked before use only when they have been idle a while.

SQLAlchemy's `pool_pre_ping` asks the database on every checkout: one more round trip for
every request that touches the database, which on the busiest write (check-in, one statement)
doubles the waits. A connection given back moments ago is alive unless the database went away in
those moments, and then the statement's own disconnect error invalidates the whole pool (every
other pooled connection is replaced at its next checkout) and the request answers 503, as it
would have anyway. So: a connection idle for `IDLE_PING_SECONDS` or more is pinged first, and a
failed ping replaces it before anyone uses it (a database restart or an idle timeout between two
quiet moments costs no request). The ping waits at most `within` seconds (HEALTH_TIMEOUT): a
frozen database costs a checkout that long, not a statement's whole deadline.
"""

from __future__ import annotations

import time

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

IDLE_PING_SECONDS = 1.0
_RETURNED_AT = "huiyuan.returned_at"


def ping_when_idle(engine: Engine, within: float | None = None) -> None:
    """Install the idle-aware ping on the engine's pool (instead of pool_pre_ping)."""
    dialect = engine.dialect

    @event.listens_for(engine.pool, "checkin")
    def _returned(_dbapi_connection, record) -> None:
        if record is not None:
            record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:
        # `info` starts empty for every new DB-API connection: a fresh one is not pinged.
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at < IDLE_PING_SECONDS:
            return
        # A BoundedConnection (app.db_timeouts) waits this long for the ping's answer.
        usual = getattr(dbapi_connection, "answer_within", None)
        if within is not None and usual is not None:
            dbapi_connection.answer_within = min(within, usual)
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            # The pool drops this connection and checks out a new one.
            raise exc.DisconnectionError("the pooled connection did not answer") from error
        finally:
            if usual is not None:
                dbapi_connection.answer_within = usual
