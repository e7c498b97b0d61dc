"""Operations endpoints: health."""

from __future__ import annotations

import logging

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import text

from app.extensions import db, get_redis

blp = Blueprint("ops", __name__, description="Operations")
log = logging.getLogger("huiyuan.ops")


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True)
    database = ma.fields.String(required=True)
    redis = ma.fields.String(required=True)


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="A dependency is down")
    def get(self):
        """Whether the database and Redis answer."""
        result = {"status": "ok", "database": "ok", "redis": "ok"}
        try:
            db.session.execute(text("SELECT 1"))
            db.session.rollback()
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            log.warning("healthz: database down: %s", type(exc).__name__)
            _safe_rollback()
            result["database"] = "down"
        try:
            get_redis().ping()
        except Exception as exc:  # noqa: BLE001
            log.warning("healthz: redis down: %s", type(exc).__name__)
            result["redis"] = "down"
        if "down" in result.values():
            result["status"] = "degraded"
            return result, 503
        return result


def _safe_rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001
        pass
