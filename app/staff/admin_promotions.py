"""CRUD /staff/v1/admin/promotions (marketer+): points promotions (会员日, double points)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.common import PageArgsSchema
from app.schemas.promotions import PromotionPageSchema, PromotionPatchSchema, PromotionSchema
from app.services.benefits import promotions

blp = Blueprint(
    "admin_promotions",
    __name__,
    url_prefix="/staff/v1/admin/promotions",
    description="Points promotions",
)


@blp.route("")
class Promotions(MethodView):
    @staff_required("marketer")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, PromotionPageSchema)
    def get(self, args):
        """Every promotion, newest first, stopped ones too."""
        return promotions.list_promotions(db.session, args["limit"], args["cursor"])

    @staff_required("marketer")
    @blp.arguments(PromotionSchema)
    @blp.response(201, PromotionSchema)
    def post(self, fields):
        """A promotion: purchases in it earn `multiplier` x the tier's points."""
        return promotions.create_promotion(db.session, fields, g.staff)


@blp.route("/<int:promotion_id>")
class Promotion(MethodView):
    @staff_required("marketer")
    @blp.response(200, PromotionSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found")
    def get(self, promotion_id):
        return promotions.get_promotion(db.session, promotion_id)

    @staff_required("marketer")
    @blp.arguments(PromotionPatchSchema)
    @blp.response(200, PromotionSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found")
    def patch(self, changes, promotion_id):
        """Change it; purchases already recorded keep what they earned."""
        return promotions.update_promotion(db.session, promotion_id, changes, g.staff)

    @staff_required("marketer")
    @blp.response(200, PromotionSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found")
    def delete(self, promotion_id):
        """Stop it (the purchases it promoted keep their points)."""
        return promotions.update_promotion(db.session, promotion_id, {"is_active": False}, g.staff)
