"""POST /api/v1/auth/login: WeChat sign-in for shoppers."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import MemberSignIn, issue_member_token
from app.errors import ErrorBodySchema
from app.extensions import db, limiter
from app.schemas.members import LoginResultSchema, LoginSchema
from app.services import members, signups

blp = Blueprint("member_auth", __name__, url_prefix="/api/v1/auth", description="Member sign-in")


@blp.route("/login")
class Login(MethodView):
    decorators = [limiter.limit("60/minute")]

    @blp.arguments(LoginSchema)
    @blp.response(200, LoginResultSchema)
    @blp.alt_response(400, schema=ErrorBodySchema, description="wechat.invalid_code")
    @blp.alt_response(502, schema=ErrorBodySchema, description="WeChat unavailable")
    def post(self, body):
        """Sign in with the code from wx.login; the first sign-in creates the member, credited
        to the staff member whose code (`staff_code`) or official-account QR code brought them."""
        member, is_new = members.sign_in(
            db.session,
            body["code"],
            body.get("referral_code"),
            body.get("store_id"),
            body.get("staff_code"),
        )
        token, expires_in = issue_member_token(member.id)
        return MemberSignIn(
            token,
            expires_in,
            is_new,
            members.profile(db.session, member.id),
            signups.signed_up_by(member),
        )
