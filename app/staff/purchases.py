"""The till: POST /staff/v1/purchases and POST /staff/v1/purchases/{order_no}/refunds."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.idempotency import idempotent
from app.schemas.points import (
    PurchaseResultSchema,
    PurchaseSchema,
    RefundResultSchema,
    RefundSchema,
)
from app.services import till

blp = Blueprint("purchases", __name__, url_prefix="/staff/v1/purchases", description="Till")


@blp.route("")
class Purchases(MethodView):
    @staff_required("clerk")
    @idempotent
    @blp.arguments(PurchaseSchema)
    @blp.response(201, PurchaseResultSchema)
    @blp.alt_response(
        409, schema=ErrorBodySchema, description="purchase.duplicate_order, points.insufficient"
    )
    @blp.alt_response(410, schema=ErrorBodySchema, description="scan.expired")
    @blp.alt_response(
        422, schema=ErrorBodySchema, description="points.redeem_over_limit, purchase.lines_mismatch"
    )
    def post(self, body):
        """Record a paid order for the scanned member: coupons used on the order first, then
        `points_to_redeem`, then points are earned on what was paid. `dry_run` previews."""
        return till.record_purchase(
            db.session,
            g.staff,
            body["scan_id"],
            body["order_no"],
            body["amount_fen"],
            body.get("paid_at"),
            points_to_redeem=body["points_to_redeem"],
            dry_run=body["dry_run"],
            lines=body["lines"],
        )


@blp.route("/<string:order_no>/refunds")
class Refunds(MethodView):
    @staff_required("clerk")
    @idempotent
    @blp.arguments(RefundSchema)
    @blp.response(201, RefundResultSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="purchase.not_found")
    @blp.alt_response(
        422, schema=ErrorBodySchema, description="refund.exceeds_purchase, purchase.lines_mismatch"
    )
    def post(self, body, order_no):
        """Refund part or all of an order; points are reversed in proportion."""
        return till.refund_purchase(
            db.session,
            g.staff,
            order_no,
            body["refund_no"],
            body["amount_fen"],
            lines=body["lines"],
        )
