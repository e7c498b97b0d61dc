"""The POS (/pos/v1) and its keys (/staff/v1/admin/stores/{id}/pos-keys)."""

from __future__ import annotations

import marshmallow as ma

from app.schemas.common import computed, whole_list_schema
from app.schemas.members import TillMemberSchema
from app.schemas.points import (
    ORDER_LINES,
    REF_TEXT,
    OrderLineSchema,
    PurchaseResultSchema,
)

MEMBER_IDS = ("member_code", "member_no", "phone")


class PosKeySchema(ma.Schema):
    key_id = ma.fields.String(required=True)
    store_id = ma.fields.Integer(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True, required=True)


class NewPosKeySchema(PosKeySchema):
    """A `keys.NewPosKey`: the key and, this once only, its secret."""

    key_id = ma.fields.String(required=True, attribute="key.key_id")
    store_id = ma.fields.Integer(required=True, attribute="key.store_id")
    created_at = ma.fields.AwareDateTime(required=True, attribute="key.created_at")
    revoked_at = ma.fields.AwareDateTime(allow_none=True, required=True, attribute="key.revoked_at")
    secret = ma.fields.String(
        required=True,
        metadata={"description": "the HMAC-SHA256 secret: shown once, keep it in the POS"},
    )


PosKeyListSchema = whole_list_schema(PosKeySchema, "PosKeyListSchema")


class _NamesAMember(ma.Schema):
    member_code = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    member_no = ma.fields.String(validate=ma.validate.Length(min=1, max=20))
    phone = ma.fields.String(validate=ma.validate.Length(min=3, max=20))

    names = MEMBER_IDS

    @ma.validates_schema
    def exactly_one(self, data, **_):
        given = [name for name in self.names if data.get(name)]
        if len(given) != 1:
            raise ma.ValidationError(f"Give exactly one of {', '.join(self.names)}.", "_schema")


class PosLookupSchema(_NamesAMember):
    pass


class PointsBalanceSchema(ma.Schema):
    balance = ma.fields.Integer(required=True)


class PosMemberSchema(TillMemberSchema):
    points = computed(
        ma.fields.Nested,
        lambda member: {"balance": member.points_balance},
        nested=PointsBalanceSchema,
    )


class PosLookupResultSchema(ma.Schema):
    member = ma.fields.Nested(PosMemberSchema, required=True)
    scan_id = computed(
        ma.fields.String,
        lambda found: found.scan.id if found.scan is not None else None,
        allow_none=True,
        metadata={
            "description": "by member code: the scan, which a purchase may name for 10 minutes"
            " instead of the (now used) code"
        },
    )


class PosPurchaseSchema(_NamesAMember):
    names = ("scan_id", *MEMBER_IDS)

    scan_id = ma.fields.String(
        validate=ma.validate.Length(min=1, max=32),
        metadata={"description": "a lookup's scan (by member code), instead of a member id"},
    )
    order_no = ma.fields.String(required=True, validate=REF_TEXT)
    amount_fen = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=100_000_000), strict=True
    )
    paid_at = ma.fields.AwareDateTime(load_default=None)
    lines = ma.fields.List(ma.fields.Nested(OrderLineSchema), load_default=None, **ORDER_LINES)
    points_to_redeem = ma.fields.Integer(
        load_default=0, strict=True, validate=ma.validate.Range(min=0, max=1_000_000_000)
    )
    coupon_codes = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=32)),
        load_default=list,
        validate=ma.validate.Length(max=10),
        metadata={"description": "coupons to use on this order, before the points"},
    )
    dry_run = ma.fields.Boolean(load_default=False)

    @ma.validates_schema
    def coupons_once(self, data, **_):
        codes = [c.strip().upper() for c in data.get("coupon_codes") or ()]
        if len(set(codes)) != len(codes):
            raise ma.ValidationError("Each coupon once.", "coupon_codes")


class CouponRedeemedSchema(ma.Schema):
    code = ma.fields.String(required=True)
    discount_fen = ma.fields.Integer(required=True)


class PosPurchaseResultSchema(PurchaseResultSchema):
    coupons_redeemed = ma.fields.List(ma.fields.Nested(CouponRedeemedSchema), required=True)
