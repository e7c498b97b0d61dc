"""CRUD /staff/v1/admin/mall-items (marketer+): what the points mall offers."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.common import PageArgsSchema
from app.schemas.mall import MallItemPageSchema, MallItemPatchSchema, MallItemSchema
from app.services import mall
from app.services.mall import mall_admin

blp = Blueprint(
    "admin_mall", __name__, url_prefix="/staff/v1/admin/mall-items", description="Mall items"
)


@blp.route("")
class Items(MethodView):
    @staff_required("marketer")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, MallItemPageSchema)
    def get(self, args):
        """Every mall item, newest first, with what was exchanged."""
        return mall_admin.list_items(db.session, args["limit"], args["cursor"])

    @staff_required("marketer")
    @blp.arguments(MallItemSchema)
    @blp.response(201, MallItemSchema)
    def post(self, fields):
        """Offer an item: coupons of a template, or goods collected at a store."""
        return mall_admin.create_item(db.session, fields, g.staff)


@blp.route("/<int:item_id>")
class Item(MethodView):
    @staff_required("marketer")
    @blp.response(200, MallItemSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found")
    def get(self, item_id):
        return mall.get_item(db.session, item_id)

    @staff_required("marketer")
    @blp.arguments(MallItemPatchSchema)
    @blp.response(200, MallItemSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found")
    @blp.alt_response(409, schema=ErrorBodySchema, description="mall.stock_below_exchanged")
    def patch(self, changes, item_id):
        """Change the offer (not the kind or the coupon template)."""
        return mall_admin.update_item(db.session, item_id, changes, g.staff)

    @staff_required("marketer")
    @blp.response(200, MallItemSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found")
    def delete(self, item_id):
        """Stop offering it (exchanges already made stay as they are)."""
        return mall_admin.update_item(db.session, item_id, {"is_active": False}, g.staff)
