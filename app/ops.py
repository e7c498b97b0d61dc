"""Operations endpoints: health."""

from __future__ import annotations

import logging
import threading
import time

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from app.db_timeouts import SessionTimeouts, bound_connections
from app.extensions import db, get_health_redis

blp = Blueprint("ops", __name__, description="Operations")
log = logging.getLogger("huiyuan.ops")
_HEALTH_ENGINE = "huiyuan_health_engine"
_health_engine_lock = threading.Lock()


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True)
    database = ma.fields.String(required=True)
    redis = ma.fields.String(required=True)


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="A dependency is down")
    def get(self):
        """Whether the database and Redis answer (each within HEALTH_TIMEOUT)."""
        result = {"status": "ok", "database": "ok", "redis": "ok"}
        try:
            _check_database(_health_engine(), current_app.config["HEALTH_TIMEOUT"])
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            log.warning("healthz: database down: %s", type(exc).__name__)
            result["database"] = "down"
        try:
            get_health_redis().ping()
        except Exception as exc:  # noqa: BLE001
            log.warning("healthz: redis down: %s", type(exc).__name__)
            result["redis"] = "down"
        if "down" in result.values():
            result["status"] = "degraded"
            return result, 503
        return result


def _check_database(engine: Engine, within: float) -> None:
    started = time.monotonic()
    for attempt in (1, 2):
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except DBAPIError as exc:
            # A connection the database dropped (it restarted) fails at once, and the pool is
            # renewed: a new one answers. A hung database took `within` already: no second try.
            quick = time.monotonic() - started < within / 3
            if attempt == 2 or not (exc.connection_invalidated and quick):
                raise


def _health_engine() -> Engine:
    """A small pool of the health check's own, with HEALTH_TIMEOUT on every wait: it answers
    while the app's pool is exhausted by requests waiting on a hung database, and never hangs
    itself. Made at the first check, in the worker (a pool must not cross gunicorn's fork)."""
    app = current_app
    engine = app.extensions.get(_HEALTH_ENGINE)
    if engine is not None:
        return engine
    with _health_engine_lock:
        if _HEALTH_ENGINE not in app.extensions:
            within = app.config["HEALTH_TIMEOUT"]
            engine = create_engine(db.engine.url, pool_size=1, max_overflow=4, pool_timeout=within)
            # The server gives up after two thirds, the client (app.db_timeouts) at the whole.
            limit = SessionTimeouts(within * 2 / 3, within * 2 / 3, within, grace=within / 3)
            libpq = {**app.config["DB_LIBPQ_PARAMS"], "connect_timeout": 2}  # libpq's least
            bound_connections(engine, limit, libpq)
            app.extensions[_HEALTH_ENGINE] = engine
        return app.extensions[_HEALTH_ENGINE]
