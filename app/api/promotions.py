"""GET /api/v1/promotions: the points promotions on now and in the next 7 days for the member."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app import clock
from app.auth import member_required
from app.extensions import db
from app.schemas.promotions import OfferedPromotionsSchema
from app.services.benefits import promotions

blp = Blueprint("promotions", __name__, url_prefix="/api/v1", description="Promotions")


@blp.route("/promotions")
class Promotions(MethodView):
    @member_required
    @blp.response(200, OfferedPromotionsSchema)
    def get(self):
        """Promotions for the member's tier on now or in the next 7 days, with their days."""
        return promotions.promotions_for_member(db.session, g.member_id, clock.now())
