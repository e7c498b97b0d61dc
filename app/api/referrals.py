"""Referrals: GET /api/v1/referrals, GET /api/v1/referrals/poster-code."""

from __future__ import annotations

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import member_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.referrals import MyReferralsSchema
from app.services import referrals

blp = Blueprint("referrals", __name__, url_prefix="/api/v1/referrals", description="Referrals")


@blp.route("")
class MyReferrals(MethodView):
    @member_required
    @blp.response(200, MyReferralsSchema)
    def get(self):
        """My referral code, the friends I invited and their status, and my rewards."""
        return referrals.my_referrals(db.session, g.member_id)


@blp.route("/poster-code")
class PosterCode(MethodView):
    @member_required
    @blp.response(200, content_type="image/png", description="A mini-program code (PNG)")
    @blp.alt_response(502, schema=ErrorBodySchema, description="wechat.error")
    def get(self):
        """A mini-program code whose scene carries my referral code (`r=<code>`)."""
        png = referrals.poster_code(db.session, g.member_id)
        return Response(
            png, mimetype="image/png", headers={"Cache-Control": "private, max-age=86400"}
        )
