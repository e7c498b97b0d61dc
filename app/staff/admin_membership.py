"""Paid membership for admins: CRUD /staff/v1/admin/membership-plans, and refunds."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.common import PageArgsSchema
from app.schemas.membership import (
    MembershipPlanPatchSchema,
    MembershipPlanSchema,
    MembershipRefundRequestSchema,
    MembershipRefundSchema,
    PlanPageSchema,
)
from app.services.membership import plans, refunds

blp = Blueprint("admin_membership", __name__, url_prefix="/staff/v1", description="Paid membership")


@blp.route("/admin/membership-plans")
class Plans(MethodView):
    @staff_required("admin")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, PlanPageSchema)
    def get(self, args):
        """Every plan, newest first, those off sale too."""
        return plans.list_plans(db.session, args["limit"], args["cursor"])

    @staff_required("admin")
    @blp.arguments(MembershipPlanSchema)
    @blp.response(201, MembershipPlanSchema)
    def post(self, fields):
        """Put a plan on sale: price, months, the points multiplier, monthly coupons."""
        return plans.create_plan(db.session, fields, g.staff)


@blp.route("/admin/membership-plans/<int:plan_id>")
class Plan(MethodView):
    @staff_required("admin")
    @blp.response(200, MembershipPlanSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found")
    def get(self, plan_id):
        return plans.get_plan(db.session, plan_id)

    @staff_required("admin")
    @blp.arguments(MembershipPlanPatchSchema)
    @blp.response(200, MembershipPlanSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found")
    def patch(self, changes, plan_id):
        """Change a plan (orders made keep their price, months and multiplier)."""
        return plans.update_plan(db.session, plan_id, changes, g.staff)

    @staff_required("admin")
    @blp.response(200, MembershipPlanSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found")
    def delete(self, plan_id):
        """Take the plan off sale (memberships bought stay as they are)."""
        return plans.update_plan(db.session, plan_id, {"is_active": False}, g.staff)


@blp.route("/memberships/<string:order_no>/refund")
class Refund(MethodView):
    @staff_required("admin")
    @blp.arguments(MembershipRefundRequestSchema)
    @blp.response(200, MembershipRefundSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found")
    @blp.alt_response(409, schema=ErrorBodySchema, description="membership.not_refundable")
    @blp.alt_response(502, schema=ErrorBodySchema, description="WeChat Pay refused or down")
    def post(self, body, order_no):
        """Refund the unused whole months through WeChat Pay; the membership ends. Once: a
        repeat answers the same refund."""
        return refunds.refund_order(db.session, g.staff, order_no, body["reason"])
