"""POST /staff/v1/lottery-wins/{draw_id}/fulfilment: hand over a physical prize at a store."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.idempotency import idempotent
from app.schemas.lottery import FulfilmentResultSchema, FulfilmentSchema
from app.services import lottery

blp = Blueprint(
    "lottery_wins", __name__, url_prefix="/staff/v1/lottery-wins", description="Till: prizes"
)


@blp.route("/<int:draw_id>/fulfilment")
class Fulfilment(MethodView):
    @staff_required("clerk")
    @idempotent
    @blp.arguments(FulfilmentSchema)
    @blp.response(201, FulfilmentResultSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="lottery.win_not_found")
    @blp.alt_response(409, schema=ErrorBodySchema, description="lottery.already_fulfilled")
    def post(self, body, draw_id):
        """Record that the scanned member received the physical prize they won."""
        return lottery.fulfil_physical_prize(db.session, g.staff, body["scan_id"], draw_id)
