"""Paid membership for members: the plans on sale, buying one, the member's membership."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import member_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.idempotency import idempotent
from app.schemas.membership import (
    MembershipOrderRequestSchema,
    MembershipOrderSchema,
    MembershipPlansSchema,
    MyMembershipSchema,
)
from app.services import membership

blp = Blueprint("membership", __name__, url_prefix="/api/v1", description="Paid membership")


@blp.route("/membership/plans")
class Plans(MethodView):
    @member_required
    @blp.response(200, MembershipPlansSchema)
    def get(self):
        """The plans on sale, cheapest first."""
        return {"items": membership.active_plans(db.session)}


@blp.route("/membership/orders")
class Orders(MethodView):
    @member_required
    @idempotent
    @blp.arguments(MembershipOrderRequestSchema)
    @blp.response(201, MembershipOrderSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found")
    @blp.alt_response(409, schema=ErrorBodySchema, description="membership.plan_inactive")
    @blp.alt_response(502, schema=ErrorBodySchema, description="wechat.error, wechat.unavailable")
    def post(self, body):
        """Buy a plan: a WeChat Pay JSAPI prepay; pass `pay_params` to wx.requestPayment. The
        membership starts (or extends) when WeChat Pay says it is paid."""
        return membership.create_order(db.session, g.member_id, body["plan_id"])


@blp.route("/me/membership")
class MyMembership(MethodView):
    @member_required
    @blp.response(200, MyMembershipSchema)
    def get(self):
        """The member's paid membership: plan, active today, first and last day, benefits."""
        return membership.membership_of(db.session, g.member_id)
