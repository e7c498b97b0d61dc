"""POST /staff/v1/members/{id}/points/adjustments (manager+): a correction with a reason."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.idempotency import idempotent
from app.schemas.points import AdjustmentSchema, PointEntrySchema
from app.services import till

blp = Blueprint(
    "adjustments", __name__, url_prefix="/staff/v1/members", description="Points adjustments"
)


@blp.route("/<int:member_id>/points/adjustments")
class Adjustments(MethodView):
    @staff_required("manager")
    @idempotent
    @blp.arguments(AdjustmentSchema)
    @blp.response(201, PointEntrySchema)
    @blp.alt_response(409, schema=ErrorBodySchema, description="points.insufficient")
    def post(self, body, member_id):
        """Add or take points with a reason; audited. Taking cannot go below zero."""
        return till.adjust_points(db.session, g.staff, member_id, body["delta"], body["reason"])
