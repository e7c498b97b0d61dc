"""Paid membership: plans, orders and their WeChat Pay parameters, the member's membership."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma

from app.schemas.common import ChangesSchema, page_schema

NAME = ma.validate.Length(min=1, max=64)
PRICE = ma.validate.Range(min=1, max=10**8)
MONTHS = ma.validate.Range(min=1, max=120)
MULTIPLIER = ma.validate.Range(min=1, max=10)
TEMPLATES = ma.fields.List(
    ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1)),
    validate=ma.validate.Length(max=10),
    metadata={"description": "coupon template ids issued each month (the 1st) to members"},
)


class _Multiplier(ma.fields.Decimal):
    """The points multiplier as a number (1.5 is x1.5), stored in percent: two decimals."""

    def __init__(self, **kwargs):
        super().__init__(places=2, as_string=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        number = super()._deserialize(value, attr, data, **kwargs)
        if number != number.quantize(Decimal("0.01")):
            raise ma.ValidationError("At most two decimals.")
        MULTIPLIER(number)
        return int(number * 100)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value) / 100


def _multiplier_field(**kwargs):
    return _Multiplier(
        data_key="multiplier",
        metadata={"description": "points multiplier at the till, e.g. 1.5 (x1.5)"},
        **kwargs,
    )


class MembershipPlanSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=NAME)
    price_fen = ma.fields.Integer(required=True, strict=True, validate=PRICE)
    months = ma.fields.Integer(required=True, strict=True, validate=MONTHS)
    multiplier_percent = _multiplier_field(load_default=100)
    monthly_coupons = ma.fields.List(
        ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1)),
        load_default=list,
        validate=ma.validate.Length(max=10),
        metadata={"description": "coupon template ids issued each month to the plan's members"},
    )
    is_active = ma.fields.Boolean(load_default=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)


class MembershipPlanPatchSchema(ChangesSchema):
    name = ma.fields.String(validate=NAME)
    price_fen = ma.fields.Integer(strict=True, validate=PRICE)
    months = ma.fields.Integer(strict=True, validate=MONTHS)
    multiplier_percent = _multiplier_field()
    monthly_coupons = TEMPLATES
    is_active = ma.fields.Boolean()


PlanPageSchema = page_schema(MembershipPlanSchema, "MembershipPlanPageSchema")


class MembershipPlansSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MembershipPlanSchema), required=True)


class MembershipOrderRequestSchema(ma.Schema):
    plan_id = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1))


class PayParamsSchema(ma.Schema):
    timeStamp = ma.fields.String(required=True)  # noqa: N815 - wx.requestPayment's names
    nonceStr = ma.fields.String(required=True)  # noqa: N815
    package = ma.fields.String(required=True)
    signType = ma.fields.String(required=True)  # noqa: N815
    paySign = ma.fields.String(required=True)  # noqa: N815


class MembershipOrderSchema(ma.Schema):
    order_no = ma.fields.String(required=True)
    plan_id = ma.fields.Integer(required=True)
    amount_fen = ma.fields.Integer(required=True)
    expires_at = ma.fields.AwareDateTime(required=True)
    pay_params = ma.fields.Nested(
        PayParamsSchema, required=True, metadata={"description": "what wx.requestPayment takes"}
    )


class MembershipBenefitsSchema(ma.Schema):
    multiplier = ma.fields.Float()
    monthly_coupons = ma.fields.List(ma.fields.Integer())


class MyMembershipSchema(ma.Schema):
    plan = ma.fields.Nested(MembershipPlanSchema, allow_none=True, required=True)
    active = ma.fields.Boolean(required=True)
    starts_on = ma.fields.Date(allow_none=True, required=True)
    ends_on = ma.fields.Date(
        allow_none=True, required=True, metadata={"description": "the last day, inclusive"}
    )
    benefits = ma.fields.Nested(MembershipBenefitsSchema, required=True)


class MembershipRefundRequestSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class MembershipRefundSchema(ma.Schema):
    order_no = ma.fields.String(required=True)
    refund_no = ma.fields.String(required=True)
    refund_fen = ma.fields.Integer(required=True)
    refund_months = ma.fields.Integer(required=True)
    status = ma.fields.String(
        required=True,
        metadata={
            "description": "refunding (until WeChat Pay says the money is back: its"
            " REFUND.SUCCESS notification or a query) or refunded"
        },
    )
    refund_status = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "WeChat Pay's word: PROCESSING, SUCCESS, ABNORMAL or CLOSED; null"
            " before it answered"
        },
    )
