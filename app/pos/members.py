"""POST /pos/v1/members/lookup: the member a POS is serving."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.errors import ErrorBodySchema
from app.extensions import db
from app.pos.auth import pos_key_required
from app.schemas.pos import PosLookupResultSchema, PosLookupSchema
from app.services import pos

blp = Blueprint("pos_members", __name__, url_prefix="/pos/v1/members", description="POS: members")


@blp.route("/lookup")
class Lookup(MethodView):
    @pos_key_required
    @blp.arguments(PosLookupSchema)
    @blp.response(200, PosLookupResultSchema)
    @blp.alt_response(401, schema=ErrorBodySchema, description="pos.* (the signature)")
    @blp.alt_response(
        404, schema=ErrorBodySchema, description="member.not_found, member_code.unknown"
    )
    @blp.alt_response(409, schema=ErrorBodySchema, description="member_code.used")
    @blp.alt_response(410, schema=ErrorBodySchema, description="member_code.expired")
    def post(self, body):
        """The member by member code (used up, as by a scan), member number or phone: points,
        tier and usable coupons."""
        return pos.lookup_member(
            db.session,
            g.staff,
            member_code=body.get("member_code"),
            member_no=body.get("member_no"),
            phone=body.get("phone"),
        )
