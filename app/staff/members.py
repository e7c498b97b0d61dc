"""GET /staff/v1/members: find a member by phone or member number (own store only)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.extensions import db
from app.schemas.staff import MemberLookupArgsSchema, MemberLookupSchema
from app.services import members

blp = Blueprint("staff_members", __name__, url_prefix="/staff/v1/members", description="Members")


@blp.route("")
class MemberLookup(MethodView):
    @staff_required("manager")
    @blp.arguments(MemberLookupArgsSchema, location="query")
    @blp.response(200, MemberLookupSchema)
    def get(self, args):
        """Members with this phone or member number; managers see only their store's members."""
        return members.find_for_staff(
            db.session, g.staff, phone=args.get("phone"), member_no=args.get("member_no")
        )
