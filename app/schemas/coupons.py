from __future__ import annotations

import marshmallow as ma

from app import clock
from app.models.coupons import AUDIENCES, COUPON_KINDS, VALIDITY_MODES
from app.schemas.common import (
    ChangesSchema,
    ModelResultSchema,
    PageArgsSchema,
    WholeListSchema,
    computed,
    next_cursor_field,
)
from app.services.coupons import coupon_status, describe, offer_status

FEN = ma.validate.Range(min=0, max=100_000_000)


class CouponTemplateBriefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String()
    kind = ma.fields.String(required=True)
    amount_off_fen = ma.fields.Integer()
    threshold_fen = ma.fields.Integer()
    percent_off = ma.fields.Integer()
    max_discount_fen = ma.fields.Integer(allow_none=True)
    discount_desc = computed(ma.fields.String, describe)


VALID_UNTIL = (
    "the last instant the coupon can be used, inclusive (one rule for relative and fixed"
    " validity): 23:59:59.999999 of its last business day for a relative validity; expired once"
    " now is later"
)


def valid_until_date_field() -> ma.fields.Field:
    """The business day of valid_until (BUSINESS_TZ): the last day the coupon can be used, what a
    till or the mini-program shows as 有效期至."""
    return computed(
        ma.fields.Date,
        lambda coupon: clock.business_date(coupon.valid_until) if coupon.valid_until else None,
        allow_none=True,
        metadata={"description": "the last business day the coupon can be used (有效期至)"},
    )


class AvailableCouponSchema(ModelResultSchema, CouponTemplateBriefSchema):
    """A `coupons.ClaimableTemplate`: the template, and how many of it the member holds."""

    stock_left = ma.fields.Integer(required=True)
    claimed_by_me = ma.fields.Integer(required=True)
    limit_per_member = ma.fields.Integer(required=True)
    claim_ends_at = ma.fields.AwareDateTime(allow_none=True)
    validity_mode = ma.fields.String()
    valid_from = ma.fields.AwareDateTime(allow_none=True)
    valid_until = ma.fields.AwareDateTime(allow_none=True)
    valid_until_date = valid_until_date_field()
    valid_days = ma.fields.Integer(allow_none=True)


class AvailableCouponsSchema(WholeListSchema):
    items = ma.fields.List(ma.fields.Nested(AvailableCouponSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


class CouponSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    template = ma.fields.Nested(CouponTemplateBriefSchema, required=True)
    status = computed(
        ma.fields.String,
        lambda coupon: coupon_status(coupon, clock.now()),
        required=True,
        metadata={"description": "unused, used or expired"},
    )
    source = ma.fields.String()
    valid_from = ma.fields.AwareDateTime(required=True)
    valid_until = ma.fields.AwareDateTime(required=True, metadata={"description": VALID_UNTIL})
    valid_until_date = valid_until_date_field()
    used_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()


class ClaimResultSchema(ma.Schema):
    coupon = ma.fields.Nested(CouponSchema, required=True)

    @ma.pre_dump
    def of_coupon(self, coupon, **_):
        return {"coupon": coupon}


class CouponPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CouponSchema), required=True)
    next_cursor = next_cursor_field()


class MyCouponsArgsSchema(PageArgsSchema):
    status = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf(["unused", "used", "expired"])
    )


class RedemptionRequestSchema(ma.Schema):
    coupon_code = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    scan_id = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    coupon_id = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**62))
    order_no = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    order_amount_fen = ma.fields.Integer(required=True, validate=FEN)
    dry_run = ma.fields.Boolean(load_default=False)

    @ma.validates_schema
    def coupon_given(self, data, **_):
        if data.get("coupon_code"):
            return
        if not (data.get("scan_id") and data.get("coupon_id")):
            raise ma.ValidationError("Give coupon_code, or scan_id and coupon_id.", "_schema")


class RedemptionSchema(ma.Schema):
    id = ma.fields.Integer(allow_none=True, required=True)
    coupon_id = ma.fields.Integer()
    discount_fen = ma.fields.Integer(required=True)
    status = ma.fields.String(metadata={"description": "applied, reversed, or preview (dry run)"})
    order_no = ma.fields.String(allow_none=True)
    store_id = ma.fields.Integer(allow_none=True)
    staff_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.AwareDateTime(allow_none=True)
    reversed_at = ma.fields.AwareDateTime(allow_none=True)


class RedemptionCouponSchema(ma.Schema):
    name = ma.fields.String()
    discount_desc = computed(ma.fields.String, describe)


class RedemptionResultSchema(ma.Schema):
    """A `coupon_redemptions.RedemptionResult`."""

    redemption = ma.fields.Nested(RedemptionSchema, required=True)
    coupon = ma.fields.Nested(RedemptionCouponSchema, attribute="template")
    dry_run = ma.fields.Boolean()


class ReversalSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class CouponTemplateSchema(ma.Schema):
    """A template as marketing designs it."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=255))
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(COUPON_KINDS))
    amount_off_fen = ma.fields.Integer(load_default=0, validate=FEN)
    threshold_fen = ma.fields.Integer(load_default=0, validate=FEN)
    percent_off = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=99))
    max_discount_fen = ma.fields.Integer(load_default=None, allow_none=True, validate=FEN)
    validity_mode = ma.fields.String(required=True, validate=ma.validate.OneOf(VALIDITY_MODES))
    valid_from = ma.fields.AwareDateTime(load_default=None, allow_none=True)
    valid_until = ma.fields.AwareDateTime(load_default=None, allow_none=True)
    valid_days = ma.fields.Integer(
        load_default=None, allow_none=True, validate=ma.validate.Range(min=1, max=3660)
    )
    claim_starts_at = ma.fields.AwareDateTime(load_default=None, allow_none=True)
    claim_ends_at = ma.fields.AwareDateTime(load_default=None, allow_none=True)
    stock_total = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=10**9))
    limit_per_member = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100))
    audience = ma.fields.String(load_default="all", validate=ma.validate.OneOf(AUDIENCES))
    audience_tiers = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=32)))
    new_member_days = ma.fields.Integer(load_default=30, validate=ma.validate.Range(min=1, max=365))
    claimable = ma.fields.Boolean(load_default=True)
    signup_gift = ma.fields.Boolean(load_default=False)
    is_active = ma.fields.Boolean(load_default=True)
    issued = ma.fields.Integer(dump_only=True)
    stock_left = ma.fields.Integer(dump_only=True)  # CouponTemplate.stock_left
    status = computed(
        ma.fields.String,
        lambda template: offer_status(template, clock.now()),
        metadata={"description": "now: offered, upcoming, ended, sold_out or stopped"},
    )
    created_at = ma.fields.AwareDateTime(dump_only=True)

    @ma.validates_schema
    def coherent(self, data, **_):
        kind = data["kind"]
        if kind in ("threshold_off", "amount_off") and data["amount_off_fen"] <= 0:
            raise ma.ValidationError("Give the amount off.", "amount_off_fen")
        if kind == "threshold_off" and data["threshold_fen"] <= 0:
            raise ma.ValidationError("满减 needs a threshold.", "threshold_fen")
        if kind == "threshold_off" and data["amount_off_fen"] > data["threshold_fen"]:
            raise ma.ValidationError("More off than the threshold.", "amount_off_fen")
        if kind == "amount_off" and data["threshold_fen"]:
            raise ma.ValidationError("No threshold on this kind; use 满减.", "threshold_fen")
        if kind == "percent_off" and not 1 <= data["percent_off"] <= 99:
            raise ma.ValidationError("Between 1 and 99.", "percent_off")
        if data["validity_mode"] == "fixed":
            start, end = data.get("valid_from"), data.get("valid_until")
            if start is None or end is None or start >= end:
                raise ma.ValidationError("Give valid_from before valid_until.", "valid_until")
        elif not data.get("valid_days"):
            raise ma.ValidationError("Give the number of days.", "valid_days")
        start, end = data.get("claim_starts_at"), data.get("claim_ends_at")
        if start and end and start >= end:
            raise ma.ValidationError("The claim window is empty.", "claim_ends_at")
        if data["audience"] == "tiers" and not data.get("audience_tiers"):
            raise ma.ValidationError("Name the tiers.", "audience_tiers")


class CouponTemplatePatchSchema(ChangesSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    description = ma.fields.String(validate=ma.validate.Length(max=255))
    claim_starts_at = ma.fields.AwareDateTime(allow_none=True)
    claim_ends_at = ma.fields.AwareDateTime(allow_none=True)
    stock_total = ma.fields.Integer(validate=ma.validate.Range(min=0, max=10**9))
    limit_per_member = ma.fields.Integer(validate=ma.validate.Range(min=1, max=100))
    audience = ma.fields.String(validate=ma.validate.OneOf(AUDIENCES))
    audience_tiers = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=32)))
    new_member_days = ma.fields.Integer(validate=ma.validate.Range(min=1, max=365))
    claimable = ma.fields.Boolean()
    signup_gift = ma.fields.Boolean()
    is_active = ma.fields.Boolean()


class CouponTemplatePageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CouponTemplateSchema), required=True)
    next_cursor = next_cursor_field()


class PushSchema(ma.Schema):
    push_key = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={"description": "Names this push: sending it again gives nobody a second coupon"},
    )
    member_ids = ma.fields.List(
        ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**62)),
        required=True,
        validate=ma.validate.Length(min=1, max=1000),
    )


class PushResultSchema(ma.Schema):
    template_id = ma.fields.Integer(required=True)
    push_key = ma.fields.String(required=True)
    requested = ma.fields.Integer(required=True)
    issued = ma.fields.Integer(required=True)
    already_had = ma.fields.Integer(required=True)
    refused = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
