"""GET/PUT /staff/v1/admin/programs/referral and the review of flagged referrals (marketer+)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.referrals import (
    ReferralAdminPageSchema,
    ReferralAdminSchema,
    ReferralListArgsSchema,
    ReferralProgramSchema,
    ReviewSchema,
)
from app.services import referrals
from app.services.referrals import referral_rewards

blp = Blueprint("admin_referrals", __name__, url_prefix="/staff/v1/admin", description="Referrals")


@blp.route("/programs/referral")
class ReferralProgram(MethodView):
    @staff_required("marketer")
    @blp.response(200, ReferralProgramSchema)
    def get(self):
        """Window, qualification, rewards, caps and the burst rule."""
        return referrals.program(db.session)

    @staff_required("marketer")
    @blp.arguments(ReferralProgramSchema)
    @blp.response(200, ReferralProgramSchema)
    def put(self, config):
        """Replace the referral program; applies to bindings and qualifications from now on."""
        return referrals.save_program(db.session, config, g.staff)


@blp.route("/referrals")
class Referrals(MethodView):
    @staff_required("marketer")
    @blp.arguments(ReferralListArgsSchema, location="query")
    @blp.response(200, ReferralAdminPageSchema)
    def get(self, args):
        """Referrals, newest first; `flagged=true` for those waiting for review."""
        return referral_rewards.list_for_review(
            db.session, args["flagged"], args["limit"], args["cursor"]
        )


@blp.route("/referrals/<int:referral_id>/review")
class Review(MethodView):
    @staff_required("marketer")
    @blp.arguments(ReviewSchema)
    @blp.response(200, ReferralAdminSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="referral.not_found")
    def post(self, body, referral_id):
        """Approve (rewards are paid when due) or reject (rewards cancelled) a flagged referral."""
        return referral_rewards.review(db.session, referral_id, body["approve"], g.staff)
