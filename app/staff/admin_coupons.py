"""CRUD /staff/v1/admin/coupon-templates and POST .../{id}/pushes (marketer+)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.idempotency import idempotent
from app.schemas.common import PageArgsSchema
from app.schemas.coupons import (
    CouponTemplatePageSchema,
    CouponTemplatePatchSchema,
    CouponTemplateSchema,
    PushResultSchema,
    PushSchema,
)
from app.services.coupons import coupon_admin

blp = Blueprint(
    "admin_coupons",
    __name__,
    url_prefix="/staff/v1/admin/coupon-templates",
    description="Coupon templates",
)


@blp.route("")
class Templates(MethodView):
    @staff_required("marketer")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, CouponTemplatePageSchema)
    def get(self, args):
        """All coupon templates, newest first, with what was issued."""
        return coupon_admin.list_templates(db.session, args["limit"], args["cursor"])

    @staff_required("marketer")
    @blp.arguments(CouponTemplateSchema)
    @blp.response(201, CouponTemplateSchema)
    def post(self, fields):
        """Design a coupon: its value, validity, claim window, stock, limit and audience."""
        return coupon_admin.create_template(db.session, fields, g.staff)


@blp.route("/<int:template_id>")
class Template(MethodView):
    @staff_required("marketer")
    @blp.response(200, CouponTemplateSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="coupon.not_found")
    def get(self, template_id):
        return coupon_admin.get_template(db.session, template_id)

    @staff_required("marketer")
    @blp.arguments(CouponTemplatePatchSchema)
    @blp.response(200, CouponTemplateSchema)
    @blp.alt_response(409, schema=ErrorBodySchema, description="coupon.stock_below_issued")
    def patch(self, changes, template_id):
        """Change the offer (not the value or validity of coupons already held)."""
        return coupon_admin.update_template(db.session, template_id, changes, g.staff)

    @staff_required("marketer")
    @blp.response(200, CouponTemplateSchema)
    def delete(self, template_id):
        """Stop offering it (coupons already held stay usable)."""
        return coupon_admin.update_template(db.session, template_id, {"is_active": False}, g.staff)


@blp.route("/<int:template_id>/pushes")
class Pushes(MethodView):
    @staff_required("marketer")
    @idempotent
    @blp.arguments(PushSchema)
    @blp.response(201, PushResultSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="coupon.not_found")
    def post(self, body, template_id):
        """Give one coupon to each listed member; the same push_key again gives nobody more."""
        return coupon_admin.push_template(
            db.session, template_id, body["push_key"], body["member_ids"], g.staff
        )
