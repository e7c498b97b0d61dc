"""POST /staff/v1/scans: accept a member code at the till; POST /staff/v1/scans/phone and
/staff/v1/scans/phone/{lookup_id}/confirm: find the shopper by phone when their phone is dead
(the last four digits confirmed by the shopper; rate-limited and audited)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db, limiter
from app.rate_limits import per_caller
from app.schemas.staff import (
    PhoneConfirmSchema,
    PhoneLookupRequestSchema,
    PhoneLookupSchema,
    ScanRequestSchema,
    ScanResultSchema,
)
from app.services.till import phone_lookup, scans

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


def _phone_lookup_key() -> str:
    return f"phone_lookup:{g.staff.id}"


@blp.route("/phone")
class PhoneLookups(MethodView):
    @staff_required("clerk")
    @per_caller(phone_lookup.RATE, _phone_lookup_key)
    @blp.arguments(PhoneLookupRequestSchema)
    @blp.response(201, PhoneLookupSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="member.not_found")
    @blp.alt_response(429, schema=ErrorBodySchema, description="rate.limited")
    def post(self, body):
        """Start finding the shopper by the phone number they tell the clerk (their phone is
        dead): the number masked, for them to confirm with its last four digits. Nothing else
        about the member until they do. Ten lookups an hour per staff member; audited."""
        return phone_lookup.start_lookup(db.session, g.staff, body["phone"])


@blp.route("/phone/<string:lookup_id>/confirm")
class PhoneLookupConfirmation(MethodView):
    @staff_required("clerk")
    @blp.arguments(PhoneConfirmSchema)
    @blp.response(201, ScanResultSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="phone_lookup.unknown")
    @blp.alt_response(422, schema=ErrorBodySchema, description="phone_lookup.mismatch")
    def post(self, body, lookup_id):
        """The shopper confirms the last four digits: the member is at the till as after a
        scan of their code (the scan id serves the till's actions for 10 minutes). Three wrong
        confirmations end the lookup; audited."""
        return phone_lookup.confirm_lookup(db.session, g.staff, lookup_id, body["last_four"])
