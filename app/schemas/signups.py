from __future__ import annotations

import marshmallow as ma

from app.schemas.common import format_arg
from app.schemas.segments import REPORT_DAY
from app.schemas.staff import StaffSchema
from app.services.signups.invite_codes import KINDS
from app.services.signups.report import GROUPS


class StaffMeSchema(ma.Schema):
    staff = ma.fields.Nested(StaffSchema, required=True)


class InviteCodeArgsSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    for_ = ma.fields.String(
        data_key="for",
        load_default="staff",
        validate=ma.validate.OneOf(("staff", "store")),
        metadata={
            "description": "`store`: the staff member's store's code (scene `st=<id>`, "
            "`store_<id>`) instead of their own"
        },
    )


class SignupReportArgsSchema(ma.Schema):
    from_ = ma.fields.Date(
        data_key="from",
        required=True,
        validate=REPORT_DAY,
        metadata={"description": "business day"},
    )
    to = ma.fields.Date(
        required=True, validate=REPORT_DAY, metadata={"description": "business day, inclusive"}
    )
    group_by = ma.fields.String(required=True, validate=ma.validate.OneOf(GROUPS))
    store_id = ma.fields.Integer(
        load_default=None,
        validate=ma.validate.Range(min=1, max=2**62),
        metadata={"description": "one store (managers: their own only)"},
    )
    format = format_arg()


class SignupRowSchema(ma.Schema):
    """A `signups.report.SignupRow`."""

    key = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "staff username, store code or YYYY-MM-DD; null: no one"},
    )
    staff_id = ma.fields.Integer(allow_none=True)
    store_id = ma.fields.Integer(allow_none=True)
    name = ma.fields.String()
    signups = ma.fields.Integer(required=True)
    with_phone = ma.fields.Integer(required=True)
    first_purchase_30d = ma.fields.Integer(required=True)
    first_purchase_rate = ma.fields.Float(required=True)


class SignupReportSchema(ma.Schema):
    """A `signups.report.SignupReport`."""

    from_ = ma.fields.Date(data_key="from", attribute="day_from", required=True)
    to = ma.fields.Date(attribute="day_to", required=True)
    group_by = ma.fields.String(required=True)
    store_id = ma.fields.Integer(allow_none=True, required=True)
    rows = ma.fields.List(ma.fields.Nested(SignupRowSchema), required=True)
