"""GET /staff/v1/members: find a member by phone or member number (own store only);
PATCH /staff/v1/members/{id}: correct a member's birthday;
DELETE /staff/v1/members/{id}: close the account of a member who asks in store;
GET /staff/v1/members/{id}/purchases: the member's recent purchases (the member page)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.common import PageArgsSchema
from app.schemas.history import MyPurchasePageSchema
from app.schemas.members import CorrectedMemberSchema, StaffMemberPatchSchema
from app.schemas.staff import MemberLookupArgsSchema, MemberLookupSchema
from app.services import members
from app.services.members import account_closure
from app.services.till import purchase_history

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


@blp.route("/<int:member_id>")
class MemberAccount(MethodView):
    @staff_required("manager")
    @blp.arguments(StaffMemberPatchSchema)
    @blp.response(200, CorrectedMemberSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="member.not_found")
    def patch(self, body, member_id):
        """Correct a member's birthday (a member sets it only once); managers only for their
        store's members; audited with the staff member."""
        member = members.correct_birthday(db.session, g.staff, member_id, body["birthday"])
        db.session.commit()
        return member

    @staff_required("manager")
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorBodySchema, description="member.not_found")
    def delete(self, member_id):
        """Close a member's account (注销) at their request, in store: as DELETE /api/v1/me;
        managers only for their store's members; audited."""
        account_closure.close_for_member_in_store(db.session, g.staff, member_id)
        db.session.commit()


@blp.route("/<int:member_id>/purchases")
class MemberPurchases(MethodView):
    @staff_required("manager")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, MyPurchasePageSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="member.not_found")
    def get(self, args, member_id):
        """The member's purchases, newest first, as GET /api/v1/me/purchases shows them;
        managers only for their store's members."""
        return purchase_history.purchases_for_staff(
            db.session, g.staff, member_id, args["limit"], args["cursor"]
        )
