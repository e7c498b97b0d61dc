"""GET /api/v1/ping: a cheap authenticated liveness check (also the benches' baseline)."""

from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import member_required

blp = Blueprint("ping", __name__, url_prefix="/api/v1/ping", description="Liveness")


class PingSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    member_id = ma.fields.Integer(required=True)


@blp.route("")
class Ping(MethodView):
    @member_required
    @blp.response(200, PingSchema)
    def get(self):
        """Answers when the member token is valid; touches neither the database nor Redis."""
        return {"ok": True, "member_id": g.member_id}
