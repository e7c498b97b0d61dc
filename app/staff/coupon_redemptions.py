"""The till: POST /staff/v1/coupons/redemptions and .../redemptions/{id}/reversal."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.idempotency import idempotent
from app.schemas.coupons import RedemptionRequestSchema, RedemptionResultSchema, ReversalSchema
from app.services.coupons import coupon_redemptions

blp = Blueprint(
    "coupon_redemptions",
    __name__,
    url_prefix="/staff/v1/coupons/redemptions",
    description="Till: coupons",
)


@blp.route("")
class Redemptions(MethodView):
    @staff_required("clerk")
    @idempotent
    @blp.arguments(RedemptionRequestSchema)
    @blp.response(201, RedemptionResultSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="coupon.not_found, scan.not_found")
    @blp.alt_response(
        409,
        schema=ErrorBodySchema,
        description="coupon.used, coupon.expired, coupon.not_yet_valid",
    )
    @blp.alt_response(422, schema=ErrorBodySchema, description="coupon.threshold_not_met")
    def post(self, body):
        """Use a coupon on an order (by its code, or scan and coupon id); `dry_run` previews."""
        return coupon_redemptions.redeem(
            db.session,
            g.staff,
            order_no=body["order_no"],
            order_amount_fen=body["order_amount_fen"],
            coupon_code=body.get("coupon_code"),
            scan_id=body.get("scan_id"),
            coupon_id=body.get("coupon_id"),
            dry_run=body["dry_run"],
        )


@blp.route("/<int:redemption_id>/reversal")
class Reversal(MethodView):
    @staff_required("clerk")
    @idempotent
    @blp.arguments(ReversalSchema)
    @blp.response(200, RedemptionResultSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="redemption.not_found")
    def post(self, body, redemption_id):
        """Undo a redemption: the coupon is usable again while it is still valid."""
        return coupon_redemptions.reverse(db.session, g.staff, redemption_id, body["reason"])
