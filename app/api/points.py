"""GET /api/v1/me/points/entries: the member's ledger, newest first."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import member_required
from app.extensions import db
from app.schemas.common import PageArgsSchema
from app.schemas.points import PointEntryPageSchema
from app.services import ledger

blp = Blueprint("points", __name__, url_prefix="/api/v1/me/points", description="Points")


@blp.route("/entries")
class Entries(MethodView):
    @member_required
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, PointEntryPageSchema)
    def get(self, args):
        """Every movement of the member's points, newest first."""
        return ledger.entries(db.session, g.member_id, args["limit"], args["cursor"])
