from __future__ import annotations

import marshmallow as ma

from app import clock
from app.schemas.common import computed, page_schema
from app.schemas.members import CouponBriefSchema
from app.services.coupons import coupon_status

REF_TEXT = ma.validate.Length(min=1, max=64)


class PointEntrySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    delta = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True)
    ref = ma.fields.String(required=True)
    balance_after = ma.fields.Integer(required=True)
    expires_on = ma.fields.Date(allow_none=True, required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    note = ma.fields.String()


PointEntryPageSchema = page_schema(PointEntrySchema, "PointEntryPageSchema")


class OrderLineSchema(ma.Schema):
    """One line of an order, as the till or the POS sends it."""

    sku = ma.fields.String(required=True, validate=REF_TEXT)
    name = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    category = ma.fields.String(load_default="", validate=ma.validate.Length(max=64))
    quantity = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(min=1, max=100_000)
    )
    unit_price_fen = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(min=0, max=100_000_000)
    )
    amount_fen = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(min=0, max=100_000_000),
        metadata={"description": "what the line costs (after line discounts)"},
    )


ORDER_LINES = {
    "validate": ma.validate.Length(min=1, max=500),
    "metadata": {
        "description": "optional: the order's lines; their amount_fen add up to the order's"
        " (422 purchase.lines_mismatch otherwise)"
    },
}


class PurchaseSchema(ma.Schema):
    scan_id = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=32))
    order_no = ma.fields.String(required=True, validate=REF_TEXT)
    # At least 1 fen (nothing paid is no purchase: it would count in every figure as one), at
    # most one million yuan (anything larger is a typo; the order import has the same bound).
    amount_fen = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=100_000_000), strict=True
    )
    paid_at = ma.fields.AwareDateTime(
        load_default=None,
        metadata={"description": "not in the future, nor before 2000 or the store's first day"},
    )
    points_to_redeem = ma.fields.Integer(
        load_default=0,
        strict=True,
        validate=ma.validate.Range(min=0, max=1_000_000_000),
        metadata={
            "description": "points to take off the order (积分抵现) after its coupons, by the"
            " points program's `redeem` rule: discount_fen = points x 100 // points_per_yuan_off,"
            " and the points taken are the fewest that buy that discount"
        },
    )
    dry_run = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "preview: answer as if recorded, record nothing"},
    )
    lines = ma.fields.List(ma.fields.Nested(OrderLineSchema), load_default=None, **ORDER_LINES)


class AppliedPromotionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    points = ma.fields.Integer(
        required=True, metadata={"description": "the extra points it gave (in points_awarded)"}
    )


class PurchaseResultSchema(ma.Schema):
    purchase_id = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "null for a dry run"}
    )
    order_no = ma.fields.String(required=True)
    member_id = ma.fields.Integer(required=True)
    amount_fen = ma.fields.Integer(required=True)
    coupon_discount_fen = ma.fields.Integer(
        required=True,
        metadata={"description": "what the coupons redeemed on this order number took off"},
    )
    points_redeemed = ma.fields.Integer(required=True)
    discount_fen = ma.fields.Integer(
        required=True, metadata={"description": "what the redeemed points took off"}
    )
    payable_fen = ma.fields.Integer(
        required=True,
        metadata={
            "description": "amount_fen - coupon_discount_fen - discount_fen; points are"
            " earned on it"
        },
    )
    points_awarded = ma.fields.Integer(required=True)
    balance = ma.fields.Integer(
        required=True,
        metadata={"description": "after the purchase (for a dry run: as it would be)"},
    )
    dry_run = ma.fields.Boolean(required=True)
    promotions = ma.fields.List(
        ma.fields.Nested(AppliedPromotionSchema),
        required=True,
        metadata={
            "description": "the promotion the purchase earned by (at most one: the"
            " highest multiplier), with its extra points"
        },
    )
    max_points_to_redeem = ma.fields.Integer(
        metadata={
            "description": "dry run only: the most points this order takes, by its share and"
            " the member's balance (0: none)"
        }
    )


class RefundLineSchema(ma.Schema):
    """What a refund gives back of one line of the order (named by its sku)."""

    sku = ma.fields.String(required=True, validate=REF_TEXT)
    quantity = ma.fields.Integer(
        load_default=0, strict=True, validate=ma.validate.Range(min=0, max=100_000)
    )
    amount_fen = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(min=1, max=100_000_000)
    )


class RefundSchema(ma.Schema):
    refund_no = ma.fields.String(required=True, validate=REF_TEXT)
    amount_fen = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=100_000_000), strict=True
    )
    lines = ma.fields.List(
        ma.fields.Nested(RefundLineSchema),
        load_default=None,
        validate=ma.validate.Length(min=1, max=500),
        metadata={
            "description": "optional: refund by line; their amount_fen add up to the refund's"
            " (422 purchase.lines_mismatch), each at most what its line has left"
        },
    )


class OrderCouponSchema(CouponBriefSchema):
    status = computed(
        ma.fields.String,
        lambda coupon: coupon_status(coupon, clock.now()),
        metadata={"description": "now: unused, used or expired"},
    )


class RefundResultSchema(ma.Schema):
    refund_id = ma.fields.Integer(required=True)
    order_no = ma.fields.String(required=True)
    refund_no = ma.fields.String(required=True)
    amount_fen = ma.fields.Integer(required=True)
    points_reversed = ma.fields.Integer(required=True)
    points_returned = ma.fields.Integer(
        required=True,
        metadata={
            "description": "the refund's share of the points redeemed on the order, given back"
        },
    )
    refunded_fen = ma.fields.Integer(required=True)
    member_id = ma.fields.Integer(required=True)
    balance = ma.fields.Integer(required=True)
    coupons = ma.fields.List(
        ma.fields.Nested(OrderCouponSchema),
        required=True,
        metadata={
            "description": "the coupons used on the order, as they stand after the refund (a"
            " full refund gives them back: unused, or expired if past their validity)"
        },
    )


class AdjustmentSchema(ma.Schema):
    delta = ma.fields.Integer(
        required=True,
        strict=True,
        validate=[
            ma.validate.Range(min=-1_000_000, max=1_000_000),
            ma.validate.NoneOf([0], error="Must not be 0."),
        ],
    )
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=200))


TEMPLATE_ID = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=2**62))


class UpgradeGiftSchema(ma.Schema):
    points = ma.fields.Integer(
        load_default=0, strict=True, validate=ma.validate.Range(min=0, max=1_000_000)
    )
    coupon_template_id = ma.fields.Integer(
        load_default=None, allow_none=True, validate=ma.validate.Range(min=1, max=2**62)
    )

    @ma.validates_schema
    def gives_something(self, data, **_):
        if not data.get("points") and data.get("coupon_template_id") is None:
            raise ma.ValidationError("Give points or a coupon_template_id (or no gift: null).")


class TierConfigSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z0-9_]{1,32}$"))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=32))
    threshold = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=0, max=1_000_000_000)
    )
    multiplier_percent = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=100, max=1000)
    )
    upgrade_gift = ma.fields.Nested(
        UpgradeGiftSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "given once per upgrade to this tier in a year; null: none"},
    )
    monthly_coupons = ma.fields.List(
        TEMPLATE_ID,
        load_default=list,
        validate=ma.validate.Length(max=10),
        metadata={"description": "coupon templates the job tier_benefits issues on the 1st"},
    )
    grace_days = ma.fields.Integer(
        load_default=0,
        strict=True,
        validate=ma.validate.Range(min=0, max=365),
        metadata={"description": "days a member keeps the tier after falling below it"},
    )


class ExpiryConfigSchema(ma.Schema):
    mode = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["rolling_days", "calendar_year_end"])
    )
    days = ma.fields.Integer(load_default=365, validate=ma.validate.Range(min=1, max=3650))
    years = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=0, max=10))


class RedeemRuleSchema(ma.Schema):
    """Points at the till (积分抵现)."""

    points_per_yuan_off = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(min=0, max=100_000),
        metadata={"description": "points that take one yuan off (0: the till takes no points)"},
    )
    max_share_percent = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(min=1, max=100),
        metadata={"description": "the most of an order (after coupons) points may pay"},
    )
    min_points = ma.fields.Integer(
        load_default=0, strict=True, validate=ma.validate.Range(min=0, max=1_000_000_000)
    )


class PointsProgramSchema(ma.Schema):
    points_per_yuan = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=100))
    rounding = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["floor", "round", "ceil"])
    )
    expiry = ma.fields.Nested(ExpiryConfigSchema, required=True)
    tiers = ma.fields.List(
        ma.fields.Nested(TierConfigSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=10),
    )
    redeem = ma.fields.Nested(
        RedeemRuleSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "points at the till; null: the till takes no points"},
    )

    @ma.validates_schema
    def tiers_consistent(self, data, **_):
        tiers = data.get("tiers") or []
        codes = [t["code"] for t in tiers]
        if len(set(codes)) != len(codes):
            raise ma.ValidationError("Tier codes must be unique.", "tiers")
        if tiers and min(t["threshold"] for t in tiers) != 0:
            raise ma.ValidationError("One tier must start at threshold 0.", "tiers")
        thresholds = [t["threshold"] for t in tiers]
        if len(set(thresholds)) != len(thresholds):
            raise ma.ValidationError("Tier thresholds must differ.", "tiers")
