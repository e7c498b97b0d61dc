"""POST /staff/v1/admin/audiences/preview (marketer+): how many members a filter reaches;
POST /staff/v1/admin/audiences/members (marketer+): who they are (ids, a page at a time)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.extensions import db
from app.schemas.audiences import (
    AudienceCountSchema,
    AudienceMemberPageSchema,
    AudienceMembersSchema,
    AudiencePreviewSchema,
)
from app.services.messaging import audiences

blp = Blueprint(
    "audiences", __name__, url_prefix="/staff/v1/admin/audiences", description="Audiences"
)


@blp.route("/preview")
class AudiencePreview(MethodView):
    @staff_required("marketer")
    @blp.arguments(AudiencePreviewSchema)
    @blp.response(200, AudienceCountSchema)
    def post(self, body):
        """Count the members an audience filter reaches now (stages and RFM as of last night)."""
        return audiences.count(db.session, body["filter"])


@blp.route("/members")
class AudienceMembers(MethodView):
    @staff_required("marketer")
    @blp.arguments(AudienceMembersSchema)
    @blp.response(200, AudienceMemberPageSchema)
    def post(self, body):
        """The ids of the members an audience filter reaches now, highest first, up to 1000 a
        page (one coupon push's worth); POST because the filter is the preview's body."""
        return audiences.member_ids_page(db.session, body["filter"], body["limit"], body["cursor"])
