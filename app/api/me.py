"""The signed-in member: profile, phone binding, the rotating member code."""

from __future__ import annotations

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint

from app import clock
from app.auth import member_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.members import MemberCodeSchema, MemberPatchSchema, MemberSchema, PhoneSchema
from app.services import members
from app.services.members import account_closure, member_code

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in member")


@blp.route("")
class Me(MethodView):
    @member_required(found_by_use_case=True)  # the profile's one statement reads the member
    @blp.response(200, MemberSchema)
    def get(self):
        """The member's profile, points, tier and check-in state."""
        return members.profile(db.session, g.member_id)

    @member_required
    @blp.arguments(MemberPatchSchema)
    @blp.response(200, MemberSchema)
    @blp.alt_response(409, schema=ErrorBodySchema, description="member.birthday_locked")
    def patch(self, changes):
        """Change nickname, avatar, birthday (once) or gender."""
        members.update_profile(db.session, g.member_id, changes)
        return members.profile(db.session, g.member_id)

    @member_required
    @blp.response(204)
    def delete(self):
        """Close the account (注销): personal data erased, open coupons voided, this token and
        every other one refused from now on; points history and orders kept without identity.
        Signing in again with WeChat later makes a new member."""
        account_closure.close_account(db.session, g.member_id)
        db.session.commit()


@blp.route("/phone")
class Phone(MethodView):
    @member_required
    @blp.arguments(PhoneSchema)
    @blp.response(200, MemberSchema)
    @blp.alt_response(400, schema=ErrorBodySchema, description="wechat.invalid_code")
    @blp.alt_response(409, schema=ErrorBodySchema, description="member.phone_taken")
    @blp.alt_response(502, schema=ErrorBodySchema, description="WeChat unavailable")
    def post(self, body):
        """Bind the phone number from the getPhoneNumber button's code."""
        members.bind_phone(db.session, g.member_id, body["code"])
        return members.profile(db.session, g.member_id)


@blp.route("/member-code")
class MemberCode(MethodView):
    @member_required
    @blp.response(200, MemberCodeSchema)
    def get(self):
        """The code to show at the till: changes every 30 s, accepted for 90 s."""
        return member_code.current_code(current_app.config["SECRET_KEY"], g.member_id, clock.now())
