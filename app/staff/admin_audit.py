"""GET /staff/v1/admin/audit (manager+; a manager reads only their store's): staff writes."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.staff import AuditArgsSchema, AuditPageSchema
from app.services.staff import audit

blp = Blueprint("admin_audit", __name__, url_prefix="/staff/v1/admin/audit", description="Audit")


@blp.route("")
class AuditTrail(MethodView):
    @staff_required("manager")
    @blp.arguments(AuditArgsSchema, location="query")
    @blp.response(200, AuditPageSchema)
    @blp.alt_response(403, schema=ErrorBodySchema, description="auth.forbidden (another store)")
    def get(self, args):
        """Who wrote what, at which store and when, newest first; filter by `staff_id`,
        `store_id`, `action`, `from`/`to` (business days). Managers see their store's only."""
        return audit.list_entries(
            db.session,
            g.staff,
            staff_id=args["staff_id"],
            store_id=args["store_id"],
            action=args["action"],
            first=args["first"],
            last=args["last"],
            limit=args["limit"],
            after=args["cursor"],
        )
