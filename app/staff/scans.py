"""POST /staff/v1/scans: accept a member code at the till."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db, limiter
from app.schemas.staff import ScanRequestSchema, ScanResultSchema
from app.services.till import scans

blp = Blueprint("scans", __name__, url_prefix="/staff/v1/scans", description="Till: scans")


def _staff_key() -> str:
    staff = g.get("staff")
    return f"scan:{staff.id}" if staff is not None else "scan:anonymous"


@blp.route("")
class Scans(MethodView):
    @staff_required("clerk")
    @limiter.limit("60/minute", key_func=_staff_key)
    @blp.arguments(ScanRequestSchema)
    @blp.response(201, ScanResultSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="member_code.unknown")
    @blp.alt_response(409, schema=ErrorBodySchema, description="member_code.used")
    @blp.alt_response(410, schema=ErrorBodySchema, description="member_code.expired")
    def post(self, body):
        """Scan a member's code: once only; the scan id is this staff member's for 10 minutes."""
        return scans.scan_member_code(db.session, g.staff, body["member_code"].strip())
