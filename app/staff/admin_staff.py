"""CRUD /staff/v1/admin/staff (admin)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.common import PageArgsSchema, page_schema
from app.schemas.staff import StaffCreateSchema, StaffPatchSchema, StaffSchema
from app.services import staff as staff_service

blp = Blueprint("admin_staff", __name__, url_prefix="/staff/v1/admin/staff", description="Staff")
StaffPageSchema = page_schema(StaffSchema, "StaffPageSchema")


@blp.route("")
class StaffList(MethodView):
    @staff_required("admin")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, StaffPageSchema)
    def get(self, args):
        """All staff accounts, newest first."""
        return staff_service.list_staff(db.session, args["limit"], args["cursor"])

    @staff_required("admin")
    @blp.arguments(StaffCreateSchema)
    @blp.response(201, StaffSchema)
    @blp.alt_response(409, schema=ErrorBodySchema, description="staff.username_taken")
    def post(self, fields):
        """Create a staff account; clerks and managers need a store."""
        return staff_service.create_staff(db.session, by=g.staff, **fields)


@blp.route("/<int:staff_id>")
class StaffItem(MethodView):
    @staff_required("admin")
    @blp.response(200, StaffSchema)
    def get(self, staff_id):
        return staff_service.get_staff(db.session, staff_id)

    @staff_required("admin")
    @blp.arguments(StaffPatchSchema)
    @blp.response(200, StaffSchema)
    def patch(self, changes, staff_id):
        """Change role, store, name, password or active flag."""
        return staff_service.update_staff(db.session, staff_id, changes, g.staff)

    @staff_required("admin")
    @blp.response(200, StaffSchema)
    def delete(self, staff_id):
        """Deactivate the account (kept for the audit trail; its tokens stop working)."""
        return staff_service.update_staff(db.session, staff_id, {"is_active": False}, g.staff)
