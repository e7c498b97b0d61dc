"""GET /api/v1/me/points/entries: the member's ledger, newest first."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import member_required
from app.extensions import db
from app.models.points import PointEntry
from app.schemas.common import PageArgsSchema
from app.schemas.points import PointEntryPageSchema
from app.services import ledger, pagination

blp = Blueprint("points", __name__, url_prefix="/api/v1/me/points", description="Points")


@blp.route("/entries")
class Entries(MethodView):
    @member_required
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, PointEntryPageSchema)
    def get(self, args):
        """Every movement of the member's points, newest first."""
        return pagination.page(
            db.session,
            ledger.entries_query(g.member_id),
            PointEntry.id,
            args["limit"],
            args["cursor"],
        )
