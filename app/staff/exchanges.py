"""POST /staff/v1/exchanges/collect: hand mall goods over at a store against their pickup code."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.idempotency import idempotent
from app.schemas.mall import CollectSchema, ExchangeSchema
from app.services import mall

blp = Blueprint(
    "exchanges", __name__, url_prefix="/staff/v1/exchanges", description="Till: mall pickups"
)


@blp.route("/collect")
class Collect(MethodView):
    @staff_required("clerk")
    @idempotent
    @blp.arguments(CollectSchema)
    @blp.response(200, ExchangeSchema)
    @blp.alt_response(403, schema=ErrorBodySchema, description="staff.store_required")
    @blp.alt_response(404, schema=ErrorBodySchema, description="exchange.unknown")
    @blp.alt_response(409, schema=ErrorBodySchema, description="exchange.already_collected")
    def post(self, body):
        """Hand the goods over: the exchange is `collected` at this store, once."""
        return mall.collect(db.session, g.staff, body["pickup_code"])
