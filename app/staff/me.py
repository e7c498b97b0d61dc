"""GET /staff/v1/me and GET /staff/v1/me/invite-code: who I am, and the code that credits the
shoppers it brings in to me (or my store)."""

from __future__ import annotations

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.signups import InviteCodeArgsSchema, StaffMeSchema
from app.services.signups import invite_codes

blp = Blueprint("staff_me", __name__, url_prefix="/staff/v1/me", description="Me")


@blp.route("")
class Me(MethodView):
    @staff_required()
    @blp.response(200, StaffMeSchema)
    def get(self):
        """The signed-in staff member, with the staff code their invite codes carry."""
        return {"staff": g.staff}


@blp.route("/invite-code")
class InviteCode(MethodView):
    @staff_required("clerk")
    @blp.arguments(InviteCodeArgsSchema, location="query")
    @blp.response(200, content_type="image/png", description="The code's image (PNG)")
    @blp.alt_response(403, schema=ErrorBodySchema, description="staff.store_required (for=store)")
    @blp.alt_response(502, schema=ErrorBodySchema, description="wechat.error")
    def get(self, args):
        """My invite code: a mini-program code (scene `s=<staff code>`) or an official-account
        QR code (scene `staff_<staff code>`); a sign-up through it is credited to me and my
        store. `for=store`: my store's instead."""
        image = invite_codes.invite_code(
            db.session, g.staff, args["kind"], for_store=args["for_"] == "store"
        )
        return Response(
            image.content,
            mimetype=image.mimetype,
            headers={"Cache-Control": "private, max-age=86400"},
        )
