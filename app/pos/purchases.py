"""POST /pos/v1/purchases and POST /pos/v1/purchases/{order_no}/refunds."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.errors import ErrorBodySchema
from app.extensions import db
from app.idempotency import idempotent
from app.pos.auth import pos_key_required
from app.schemas.points import RefundResultSchema, RefundSchema
from app.schemas.pos import PosPurchaseResultSchema, PosPurchaseSchema
from app.services import pos

blp = Blueprint(
    "pos_purchases", __name__, url_prefix="/pos/v1/purchases", description="POS: purchases"
)


@blp.route("")
class Purchases(MethodView):
    @pos_key_required
    @idempotent
    @blp.arguments(PosPurchaseSchema)
    @blp.response(201, PosPurchaseResultSchema)
    @blp.alt_response(401, schema=ErrorBodySchema, description="pos.* (the signature)")
    @blp.alt_response(404, schema=ErrorBodySchema, description="member.not_found, coupon.not_found")
    @blp.alt_response(
        409,
        schema=ErrorBodySchema,
        description="purchase.duplicate_order, points.insufficient, member_code.used, coupon.used",
    )
    @blp.alt_response(410, schema=ErrorBodySchema, description="member_code.expired")
    @blp.alt_response(
        422,
        schema=ErrorBodySchema,
        description="purchase.lines_mismatch, points.redeem_over_limit, coupon.threshold_not_met",
    )
    def post(self, body):
        """Record the store's order for the member it names, as the staff till does: coupons
        first, then `points_to_redeem`, then points earned on what was paid. An `order_no` is
        unique per store: the same request again is the first answer again."""
        return pos.record_pos_purchase(
            db.session,
            g.staff,
            order_no=body["order_no"],
            amount_fen=body["amount_fen"],
            ids={name: body.get(name) for name in ("scan_id", "member_code", "member_no", "phone")},
            paid_at=body["paid_at"],
            lines=body["lines"],
            points_to_redeem=body["points_to_redeem"],
            coupon_codes=body["coupon_codes"],
            dry_run=body["dry_run"],
        )


@blp.route("/<string:order_no>/refunds")
class Refunds(MethodView):
    @pos_key_required
    @idempotent
    @blp.arguments(RefundSchema)
    @blp.response(201, RefundResultSchema)
    @blp.alt_response(401, schema=ErrorBodySchema, description="pos.* (the signature)")
    @blp.alt_response(404, schema=ErrorBodySchema, description="purchase.not_found")
    @blp.alt_response(
        422, schema=ErrorBodySchema, description="refund.exceeds_purchase, purchase.lines_mismatch"
    )
    def post(self, body, order_no):
        """Refund part or all of one of this store's orders (optionally by line); points are
        reversed in proportion, as at the staff till."""
        return pos.refund_pos_purchase(
            db.session, g.staff, order_no, body["refund_no"], body["amount_fen"], body["lines"]
        )
