from __future__ import annotations

import marshmallow as ma

from app import clock
from app.models.lottery import PRIZE_KINDS
from app.schemas.common import ChangesSchema, WholeListSchema, computed, next_cursor_field
from app.schemas.coupons import CouponSchema
from app.services.lottery import lottery_status

POINTS = ma.validate.Range(min=0, max=10_000_000)


class PrizeBriefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "points, coupon, physical"})
    points = ma.fields.Integer(allow_none=True)


class ListedPrizeSchema(PrizeBriefSchema):
    available = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "false: no stock left, or today's release or the points budget"
            " reached; it is not drawn (the draw is among the prizes left)"
        },
    )


class LotterySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    cost_points = ma.fields.Integer(required=True)
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    daily_draw_limit = ma.fields.Integer()
    draws_left_today = ma.fields.Integer(required=True)
    prizes = ma.fields.List(ma.fields.Nested(ListedPrizeSchema), required=True)
    nothing_left = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "true: no prize can be won now; a draw is 409 lottery.nothing_left"
        },
    )


class LotteryListSchema(WholeListSchema):
    items = ma.fields.List(ma.fields.Nested(LotterySchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


class WonPrizeSchema(PrizeBriefSchema):
    coupon = ma.fields.Nested(CouponSchema)


class DrawResultSchema(ma.Schema):
    draw_id = ma.fields.Integer(required=True)
    prize = ma.fields.Nested(WonPrizeSchema, allow_none=True, required=True)
    points_spent = ma.fields.Integer(required=True)
    balance = ma.fields.Integer(required=True)
    outcome = ma.fields.String()


class PrizeSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(PRIZE_KINDS))
    weight = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=10**9))
    points = ma.fields.Integer(load_default=0, validate=POINTS)
    coupon_template_id = ma.fields.Integer(load_default=None, allow_none=True)
    stock_total = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=10**9))
    daily_cap = ma.fields.Integer(
        load_default=None, allow_none=True, validate=ma.validate.Range(min=0, max=10**9)
    )
    is_active = ma.fields.Boolean(load_default=True)
    won = ma.fields.Integer(dump_only=True)
    stock_left = ma.fields.Integer(dump_only=True)


class PrizePatchSchema(ChangesSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    weight = ma.fields.Integer(validate=ma.validate.Range(min=0, max=10**9))
    points = ma.fields.Integer(validate=ma.validate.Range(min=1, max=10_000_000))
    stock_total = ma.fields.Integer(validate=ma.validate.Range(min=0, max=10**9))
    daily_cap = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=0, max=10**9))
    is_active = ma.fields.Boolean()


class LotteryAdminSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    cost_points = ma.fields.Integer(required=True, validate=POINTS)
    starts_at = ma.fields.AwareDateTime(required=True)
    ends_at = ma.fields.AwareDateTime(required=True)
    daily_draw_limit = ma.fields.Integer(
        load_default=3, validate=ma.validate.Range(min=1, max=1000)
    )
    points_budget = ma.fields.Integer(load_default=None, allow_none=True, validate=POINTS)
    is_active = ma.fields.Boolean(load_default=True)
    points_given = ma.fields.Integer(dump_only=True)
    status = computed(
        ma.fields.String,
        lambda lottery: lottery_status(lottery, clock.now()),
        metadata={"description": "now: open, upcoming, ended or closed"},
    )
    created_at = ma.fields.AwareDateTime(dump_only=True)
    prizes = ma.fields.List(
        ma.fields.Nested(PrizeSchema), load_default=list, validate=ma.validate.Length(max=50)
    )

    @ma.validates_schema
    def window(self, data, **_):
        if data["starts_at"] >= data["ends_at"]:
            raise ma.ValidationError("ends_at must be after starts_at.", "ends_at")


class LotteryPatchSchema(ChangesSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    cost_points = ma.fields.Integer(validate=POINTS)
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    daily_draw_limit = ma.fields.Integer(validate=ma.validate.Range(min=1, max=1000))
    points_budget = ma.fields.Integer(allow_none=True, validate=POINTS)
    is_active = ma.fields.Boolean()


class LotteryAdminPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(LotteryAdminSchema), required=True)
    next_cursor = next_cursor_field()


class FulfilmentSchema(ma.Schema):
    scan_id = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=32))


class FulfilmentResultSchema(ma.Schema):
    draw_id = ma.fields.Integer(required=True)
    prize = ma.fields.String(required=True)
    fulfilled_at = ma.fields.AwareDateTime(required=True)
    store_id = ma.fields.Integer(required=True)
