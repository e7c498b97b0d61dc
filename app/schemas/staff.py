from __future__ import annotations

import marshmallow as ma

from app.models.staff import ROLES
from app.schemas.common import ChangesSchema, WholeListSchema, cursor_arg, page_schema
from app.schemas.members import TillMemberSchema
from app.schemas.points import RedeemRuleSchema
from app.schemas.segments import MemberSegmentSchema

USERNAME = ma.validate.Regexp(r"^[A-Za-z0-9_.-]{3,64}$", error="3-64 letters, digits, _ . -")


class StaffLoginSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=256))


class StaffSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    username = ma.fields.String()
    display_name = ma.fields.String()
    role = ma.fields.String(required=True)
    store_id = ma.fields.Integer(allow_none=True, required=True)
    is_active = ma.fields.Boolean()
    staff_code = ma.fields.String(
        metadata={"description": "what this staff member's invite codes carry"}
    )
    created_at = ma.fields.AwareDateTime()


class StaffLoginResultSchema(ma.Schema):
    token = ma.fields.String(required=True)
    expires_in = ma.fields.Integer(required=True)
    staff = ma.fields.Nested(StaffSchema, required=True)


class StaffCreateSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=USERNAME)
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=8, max=256))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLES))
    store_id = ma.fields.Integer(
        load_default=None, allow_none=True, validate=ma.validate.Range(min=1, max=2**62)
    )
    display_name = ma.fields.String(load_default="", validate=ma.validate.Length(max=64))


class StaffPatchSchema(ChangesSchema):
    password = ma.fields.String(validate=ma.validate.Length(min=8, max=256))
    role = ma.fields.String(validate=ma.validate.OneOf(ROLES))
    store_id = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=1, max=2**62))
    display_name = ma.fields.String(validate=ma.validate.Length(max=64))
    is_active = ma.fields.Boolean()


class StoreSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    address = ma.fields.String(load_default="", validate=ma.validate.Length(max=255))
    is_active = ma.fields.Boolean(load_default=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)


class StorePatchSchema(ChangesSchema):
    code = ma.fields.String(validate=ma.validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"))
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    address = ma.fields.String(validate=ma.validate.Length(max=255))
    is_active = ma.fields.Boolean()


class ScanRequestSchema(ma.Schema):
    member_code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))


class ScanResultSchema(ma.Schema):
    scan_id = ma.fields.String(required=True, attribute="scan.id")
    expires_at = ma.fields.AwareDateTime(required=True, attribute="scan.expires_at")
    member = ma.fields.Nested(TillMemberSchema, required=True)
    redeem = ma.fields.Nested(
        RedeemRuleSchema,
        allow_none=True,
        metadata={"description": "the points program's till rule; null: the till takes no points"},
    )


PHONE = ma.validate.Regexp(
    r"^\+?[0-9][0-9 \-]{5,18}[0-9]$", error="A phone number: digits, spaces and dashes."
)


class PhoneLookupRequestSchema(ma.Schema):
    phone = ma.fields.String(
        required=True,
        validate=PHONE,
        metadata={"description": "the number the shopper tells the clerk"},
    )


class PhoneLookupSchema(ma.Schema):
    """A `till.phone_lookup.PendingLookup`."""

    lookup_id = ma.fields.String(required=True)
    phone_masked = ma.fields.String(
        required=True, metadata={"description": "for the shopper to check, e.g. 138****5678"}
    )
    expires_at = ma.fields.AwareDateTime(required=True)
    attempts_left = ma.fields.Integer(required=True)


class PhoneConfirmSchema(ma.Schema):
    last_four = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[0-9]{4}$", error="Four digits."),
        metadata={"description": "the phone's last four digits, as the shopper confirms them"},
    )


class MemberLookupArgsSchema(ma.Schema):
    phone = ma.fields.String(validate=ma.validate.Length(min=3, max=20))
    member_no = ma.fields.String(validate=ma.validate.Length(min=1, max=20))

    @ma.validates_schema
    def one_key(self, data, **_):
        if not data.get("phone") and not data.get("member_no"):
            raise ma.ValidationError("Give phone or member_no.", "_schema")


class LookedUpMemberSchema(TillMemberSchema):
    # None until the nightly segments refresh has seen the member.
    segment = ma.fields.Nested(MemberSegmentSchema, allow_none=True, required=True)


class MemberLookupSchema(WholeListSchema):
    items = ma.fields.List(ma.fields.Nested(LookedUpMemberSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


class AuditArgsSchema(ma.Schema):
    staff_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=2**62))
    store_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=2**62))
    action = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64))
    first = ma.fields.Date(
        data_key="from", load_default=None, metadata={"description": "business day"}
    )
    last = ma.fields.Date(
        data_key="to", load_default=None, metadata={"description": "business day"}
    )
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))
    cursor = cursor_arg()

    @ma.validates_schema
    def ordered(self, data: dict, **_) -> None:
        if data.get("first") and data.get("last") and data["first"] > data["last"]:
            raise ma.ValidationError("Not after to.", "from")


class AuditEntrySchema(ma.Schema):
    """A `staff.audit.AuditRow`."""

    id = ma.fields.Integer(required=True, attribute="entry.id")
    staff_id = ma.fields.Integer(required=True, attribute="entry.staff_id")
    staff_username = ma.fields.String(required=True, attribute="username")
    store_id = ma.fields.Integer(allow_none=True, required=True, attribute="entry.store_id")
    action = ma.fields.String(required=True, attribute="entry.action")
    target_type = ma.fields.String(required=True, attribute="entry.target_type")
    target_id = ma.fields.String(required=True, attribute="entry.target_id")
    details = ma.fields.Dict(required=True, attribute="entry.details")
    created_at = ma.fields.AwareDateTime(required=True, attribute="entry.created_at")


AuditPageSchema = page_schema(AuditEntrySchema, "AuditPageSchema")
