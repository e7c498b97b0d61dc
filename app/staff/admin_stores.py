"""CRUD /staff/v1/admin/stores (admin)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.common import PageArgsSchema, page_schema
from app.schemas.staff import StorePatchSchema, StoreSchema
from app.services import staff as staff_service

blp = Blueprint("admin_stores", __name__, url_prefix="/staff/v1/admin/stores", description="Stores")
StorePageSchema = page_schema(StoreSchema, "StorePageSchema")


@blp.route("")
class Stores(MethodView):
    @staff_required("admin")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, StorePageSchema)
    def get(self, args):
        """All stores, newest first."""
        return staff_service.list_stores(db.session, args["limit"], args["cursor"])

    @staff_required("admin")
    @blp.arguments(StoreSchema)
    @blp.response(201, StoreSchema)
    @blp.alt_response(409, schema=ErrorBodySchema, description="store.code_taken")
    def post(self, fields):
        """Open a store."""
        return staff_service.create_store(db.session, fields, by=g.staff)


@blp.route("/<int:store_id>")
class StoreItem(MethodView):
    @staff_required("admin")
    @blp.response(200, StoreSchema)
    def get(self, store_id):
        return staff_service.get_store(db.session, store_id)

    @staff_required("admin")
    @blp.arguments(StorePatchSchema)
    @blp.response(200, StoreSchema)
    def patch(self, changes, store_id):
        return staff_service.update_store(db.session, store_id, changes, g.staff)

    @staff_required("admin")
    @blp.response(200, StoreSchema)
    def delete(self, store_id):
        """Close a store (kept for history; it takes no new sign-ups)."""
        return staff_service.update_store(db.session, store_id, {"is_active": False}, g.staff)
