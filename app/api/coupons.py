"""Coupons for the member: GET /api/v1/coupons/available, POST /api/v1/coupons/{id}/claims,
GET /api/v1/me/coupons."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import member_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.idempotency import idempotent
from app.schemas.coupons import (
    AvailableCouponsSchema,
    ClaimResultSchema,
    CouponPageSchema,
    MyCouponsArgsSchema,
)
from app.services import coupons

blp = Blueprint("coupons", __name__, url_prefix="/api/v1", description="Coupons")


@blp.route("/coupons/available")
class Available(MethodView):
    @member_required
    @blp.response(200, AvailableCouponsSchema)
    def get(self):
        """Coupons the member can claim now, with what is left and how many they have."""
        return coupons.available(db.session, g.member_id)


@blp.route("/coupons/<int:template_id>/claims")
class Claims(MethodView):
    @member_required
    @idempotent(folded=True)  # coupons.claim is one statement, and carries the key's claim
    @blp.response(201, ClaimResultSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="coupon.not_found")
    @blp.alt_response(
        409,
        schema=ErrorBodySchema,
        description="coupon.out_of_stock, coupon.limit_reached, coupon.not_claimable",
    )
    def post(self, template_id):
        """Claim one coupon of this template (stock and the per-member limit permitting)."""
        return coupons.claim(db.session, g.member_id, template_id)


@blp.route("/me/coupons")
class MyCoupons(MethodView):
    @member_required
    @blp.arguments(MyCouponsArgsSchema, location="query")
    @blp.response(200, CouponPageSchema)
    def get(self, args):
        """The member's coupons, newest first; `status` = unused, used or expired."""
        return coupons.my_coupons(
            db.session, g.member_id, args["status"], args["limit"], args["cursor"]
        )
