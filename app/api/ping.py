"""GET /api/v1/ping: a cheap authenticated liveness check (also the benches' baseline)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import member_required
from app.schemas.common import PingSchema

blp = Blueprint("ping", __name__, url_prefix="/api/v1/ping", description="Liveness")


@blp.route("")
class Ping(MethodView):
    @member_required
    @blp.response(200, PingSchema)
    def get(self):
        """Answers when the member token is valid; touches neither the database nor Redis."""
        return g.member_id
