from __future__ import annotations

import marshmallow as ma

from app.schemas.common import ChangesSchema, ModelResultSchema, TierSchema, computed
from app.schemas.coupons import VALID_UNTIL, valid_until_date_field
from app.schemas.mall import PickupSchema
from app.services.coupons import describe
from app.services.identifiers import mask_phone


class LoginSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128))
    referral_code = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.Length(max=16)
    )
    store_id = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(min=1, max=2**62),
        strict=True,
    )
    staff_code = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Length(max=16),
        metadata={"description": "from a staff member's invite code (scene `s=<code>`)"},
    )


class ExpiringSchema(ma.Schema):
    points = ma.fields.Integer(required=True)
    expires_on = ma.fields.Date(required=True)


class PointsSummarySchema(ma.Schema):
    balance = ma.fields.Integer(required=True)
    expiring = ma.fields.List(ma.fields.Nested(ExpiringSchema), required=True)


class CheckinSummarySchema(ma.Schema):
    streak = ma.fields.Integer(required=True)
    checked_in_today = ma.fields.Boolean(required=True)


class PaidMembershipBriefSchema(ma.Schema):
    """An active paid membership (付费会员): null when the member has none today."""

    plan = ma.fields.String(required=True)
    ends_on = ma.fields.Date(required=True, metadata={"description": "the last day, inclusive"})
    multiplier = ma.fields.Float(
        required=True, metadata={"description": "at the till: the higher of this and the tier's"}
    )


class MemberSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    member_no = ma.fields.String(required=True)
    nickname = ma.fields.String(required=True)
    avatar_url = ma.fields.String(required=True)
    phone_masked = ma.fields.String(allow_none=True, required=True)
    birthday = ma.fields.Date(allow_none=True)
    gender = ma.fields.Integer(metadata={"description": "0 unknown, 1 male, 2 female"})
    tier = ma.fields.Nested(TierSchema, required=True)
    points = ma.fields.Nested(PointsSummarySchema, required=True)
    checkin = ma.fields.Nested(CheckinSummarySchema, required=True)
    referral_code = ma.fields.String(required=True)
    store_id = ma.fields.Integer(allow_none=True, required=True)
    joined_at = ma.fields.AwareDateTime(required=True)
    paid_membership = ma.fields.Nested(PaidMembershipBriefSchema, allow_none=True)


class SignedUpBySchema(ma.Schema):
    """A `signups.SignedUpBy`."""

    staff_id = ma.fields.Integer(allow_none=True, required=True)
    store_id = ma.fields.Integer(allow_none=True, required=True)


class LoginResultSchema(ma.Schema):
    token = ma.fields.String(required=True)
    expires_in = ma.fields.Integer(required=True)
    is_new = ma.fields.Boolean(required=True)
    member = ma.fields.Nested(MemberSchema, required=True)
    signed_up_by = ma.fields.Nested(
        SignedUpBySchema,
        allow_none=True,
        required=True,
        metadata={"description": "the staff member and store the sign-up is credited to"},
    )


class PhoneSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128))


class MemberPatchSchema(ChangesSchema):
    nickname = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    avatar_url = ma.fields.Url(
        schemes={"http", "https"}, validate=ma.validate.Length(max=512), relative=False
    )
    birthday = ma.fields.Date()
    gender = ma.fields.Integer(validate=ma.validate.OneOf([0, 1, 2]), strict=True)


class StaffMemberPatchSchema(ma.Schema):
    """PATCH /staff/v1/members/{id}: a store's correction of the member's birthday."""

    birthday = ma.fields.Date(required=True)


class CorrectedMemberSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    member_no = ma.fields.String(required=True)
    nickname = ma.fields.String(required=True)
    birthday = ma.fields.Date(allow_none=True, required=True)


class MemberCodeSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "18 digits"})
    expires_at = ma.fields.AwareDateTime(required=True)
    refresh_after = ma.fields.Integer(required=True, metadata={"description": "seconds"})


class CouponBriefSchema(ma.Schema):
    """A coupon as the till lists it: the coupon, named and valued by its template."""

    id = ma.fields.Integer(required=True)
    code = ma.fields.String()
    name = ma.fields.String(attribute="template.name")
    kind = ma.fields.String(attribute="template.kind")
    discount_desc = computed(ma.fields.String, lambda coupon: describe(coupon.template))
    valid_until = ma.fields.AwareDateTime(metadata={"description": VALID_UNTIL})
    valid_until_date = valid_until_date_field()


class TillMemberSchema(ModelResultSchema):
    """A `till.scans.TillMember`."""

    id = ma.fields.Integer(required=True)
    member_no = ma.fields.String(required=True)
    nickname = ma.fields.String(required=True)
    phone_masked = computed(
        ma.fields.String, lambda member: mask_phone(member.phone), allow_none=True
    )
    tier = ma.fields.Nested(TierSchema, required=True)
    points_balance = ma.fields.Integer(required=True)
    coupons = ma.fields.List(ma.fields.Nested(CouponBriefSchema), required=True)
    pickups = ma.fields.List(
        ma.fields.Nested(PickupSchema),
        metadata={"description": "after a scan: mall goods and lottery prizes to hand over"},
    )
    paid_membership = ma.fields.Nested(PaidMembershipBriefSchema, allow_none=True)
