"""The points mall for the member: GET /api/v1/mall/items, POST /api/v1/mall/items/{id}/exchanges,
GET /api/v1/me/exchanges, POST /api/v1/me/exchanges/{id}/cancel."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import member_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.idempotency import idempotent
from app.schemas.common import PageArgsSchema
from app.schemas.mall import (
    ExchangePageSchema,
    ExchangeRequestSchema,
    ExchangeResultSchema,
    OfferedItemsSchema,
)
from app.services import mall

blp = Blueprint("mall", __name__, url_prefix="/api/v1", description="Points mall")


@blp.route("/mall/items")
class Items(MethodView):
    @member_required
    @blp.response(200, OfferedItemsSchema)
    def get(self):
        """Items on offer now, with what is left and how many the member has exchanged."""
        return mall.items_on_offer(db.session, g.member_id)


@blp.route("/mall/items/<int:item_id>/exchanges")
class Exchanges(MethodView):
    @member_required
    @idempotent
    @blp.arguments(ExchangeRequestSchema)
    @blp.response(201, ExchangeResultSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found")
    @blp.alt_response(
        409,
        schema=ErrorBodySchema,
        description="points.insufficient, mall.out_of_stock, mall.limit_reached, "
        "mall.not_available",
    )
    def post(self, body, item_id):
        """Exchange points for `quantity` units (default 1): coupons, or a pickup code."""
        return mall.exchange(db.session, g.member_id, item_id, body["quantity"])


@blp.route("/me/exchanges")
class MyExchanges(MethodView):
    @member_required
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ExchangePageSchema)
    def get(self, args):
        """The member's exchanges, newest first."""
        return mall.my_exchanges(db.session, g.member_id, args["limit"], args["cursor"])


@blp.route("/me/exchanges/<int:exchange_id>/cancel")
class Cancel(MethodView):
    @member_required
    @idempotent
    @blp.response(200, ExchangeResultSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="exchange.unknown")
    @blp.alt_response(409, schema=ErrorBodySchema, description="exchange.not_cancellable")
    def post(self, exchange_id):
        """Cancel goods not collected yet: the points and the stock come back, once."""
        return mall.cancel(db.session, g.member_id, exchange_id)
