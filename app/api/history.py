"""What the member has: GET /api/v1/me/purchases and GET /api/v1/me/draws."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import member_required
from app.extensions import db
from app.schemas.common import PageArgsSchema
from app.schemas.history import MyDrawPageSchema, MyPurchasePageSchema
from app.services.lottery import draw_history
from app.services.till import purchase_history

blp = Blueprint(
    "history", __name__, url_prefix="/api/v1/me", description="The member's purchases and draws"
)


@blp.route("/purchases")
class MyPurchases(MethodView):
    @member_required
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, MyPurchasePageSchema)
    def get(self, args):
        """The member's purchases, newest first: store, amounts, refunds, points."""
        return purchase_history.member_purchases(
            db.session, g.member_id, args["limit"], args["cursor"]
        )


@blp.route("/draws")
class MyDraws(MethodView):
    @member_required
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, MyDrawPageSchema)
    def get(self, args):
        """The member's lottery draws, newest first, with prizes still to collect."""
        return draw_history.member_draws(db.session, g.member_id, args["limit"], args["cursor"])
