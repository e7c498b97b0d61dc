"""The analysis of the business: GMV and its drivers, cohorts, the second purchase, baskets."""

from __future__ import annotations

from datetime import date

import marshmallow as ma

from app.schemas.common import format_arg

_MONTH = ma.validate.Regexp(
    r"^(19[7-9]\d|20\d\d)-(0[1-9]|1[0-2])$", error="A month as YYYY-MM (1970-01 to 2099-12)."
)
_DAY = ma.validate.Range(
    min=date(1970, 1, 1), max=date(2099, 12, 31), error="Give a day from 1970-01-01 to 2099-12-31."
)
MAX_COHORT_MONTHS = 60


class StoreFilterSchema(ma.Schema):
    store_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))
    format = format_arg()


class GmvArgsSchema(StoreFilterSchema):
    month = ma.fields.String(required=True, validate=_MONTH, metadata={"example": "2026-11"})


class CohortsArgsSchema(StoreFilterSchema):
    first = ma.fields.String(data_key="from", required=True, validate=_MONTH)
    last = ma.fields.String(data_key="to", required=True, validate=_MONTH)

    @ma.validates_schema
    def ordered(self, data: dict, **_) -> None:
        if "first" not in data or "last" not in data:
            return
        (y0, m0), (y1, m1) = (map(int, data[k].split("-")) for k in ("first", "last"))
        months = (y1 * 12 + m1) - (y0 * 12 + m0) + 1
        if months < 1:
            raise ma.ValidationError("must not be before from", field_name="to")
        if months > MAX_COHORT_MONTHS:
            raise ma.ValidationError(f"at most {MAX_COHORT_MONTHS} months", field_name="to")


class BasketsArgsSchema(StoreFilterSchema):
    first = ma.fields.Date(data_key="from", required=True, validate=_DAY)
    last = ma.fields.Date(data_key="to", required=True, validate=_DAY)
    category = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=64))

    @ma.validates_schema
    def ordered(self, data: dict, **_) -> None:
        if data.get("first") and data.get("last") and data["first"] > data["last"]:
            raise ma.ValidationError("must not be before from", field_name="to")


class NewMembersSchema(ma.Schema):
    gmv_fen = ma.fields.Integer(required=True)
    signups = ma.fields.Integer(required=True)
    buyers = ma.fields.Integer(required=True, metadata={"description": "new members who bought"})
    orders = ma.fields.Integer(required=True)
    first_purchase_rate = ma.fields.Float(
        required=True, metadata={"description": "buyers / signups"}
    )
    orders_per_buyer = ma.fields.Float(required=True)
    avg_order_fen = ma.fields.Integer(required=True)


class ExistingMembersSchema(ma.Schema):
    gmv_fen = ma.fields.Integer(required=True)
    active_members = ma.fields.Integer(required=True, metadata={"description": "who bought"})
    orders = ma.fields.Integer(required=True)
    orders_per_buyer = ma.fields.Float(required=True)
    avg_order_fen = ma.fields.Integer(required=True)


class MonthGmvSchema(ma.Schema):
    month = ma.fields.String(required=True)
    gmv_fen = ma.fields.Integer(required=True)
    new_members = ma.fields.Nested(NewMembersSchema, required=True)
    existing_members = ma.fields.Nested(ExistingMembersSchema, required=True)


class DriverSchema(ma.Schema):
    segment = ma.fields.String(required=True, metadata={"example": "new_members"})
    factor = ma.fields.String(required=True, metadata={"example": "signups"})
    previous = ma.fields.Float(required=True)
    current = ma.fields.Float(required=True)
    change_fen = ma.fields.Integer(
        required=True, metadata={"description": "this factor's part of the GMV change (LMDI)"}
    )
    share = ma.fields.Float(
        allow_none=True, required=True, metadata={"description": "change_fen / gmv_change_fen"}
    )


class GmvSchema(MonthGmvSchema):
    store_id = ma.fields.Integer(allow_none=True, required=True)
    previous_month = ma.fields.Nested(MonthGmvSchema, required=True)
    gmv_change_fen = ma.fields.Integer(required=True)
    drivers = ma.fields.List(ma.fields.Nested(DriverSchema), required=True)


class CohortRowSchema(ma.Schema):
    cohort = ma.fields.String(required=True, metadata={"description": "join month"})
    members = ma.fields.Integer(required=True)
    buyers = ma.fields.List(ma.fields.Integer(), required=True)
    retention = ma.fields.List(
        ma.fields.Float(allow_none=True),
        required=True,
        metadata={"description": "share of the cohort buying in month 0, 1, 2, … since joining"},
    )


class CohortsSchema(ma.Schema):
    from_ = ma.fields.String(data_key="from", attribute="from", required=True)
    to = ma.fields.String(required=True)
    store_id = ma.fields.Integer(allow_none=True, required=True)
    rows = ma.fields.List(ma.fields.Nested(CohortRowSchema), required=True)


class GapBucketSchema(ma.Schema):
    from_day = ma.fields.Integer(required=True)
    to_day = ma.fields.Integer(allow_none=True, required=True)
    members = ma.fields.Integer(required=True)


class RepurchaseSchema(ma.Schema):
    store_id = ma.fields.Integer(allow_none=True, required=True)
    buyers = ma.fields.Integer(required=True)
    repeat_buyers = ma.fields.Integer(required=True)
    days_to_second_purchase = ma.fields.List(ma.fields.Nested(GapBucketSchema), required=True)
    median_days_to_second = ma.fields.Integer(allow_none=True, required=True)
    second_purchase_rate_90d = ma.fields.Float(allow_none=True, required=True)
    first_purchases_90_days_ago = ma.fields.Integer(required=True)
    one_time_buyer_share = ma.fields.Float(allow_none=True, required=True)


class CategorySchema(ma.Schema):
    category = ma.fields.String(required=True)
    orders = ma.fields.Integer(required=True)
    units = ma.fields.Integer(required=True)
    gmv_fen = ma.fields.Integer(required=True)


class BasketsSchema(ma.Schema):
    from_ = ma.fields.Date(data_key="from", attribute="from", required=True)
    to = ma.fields.Date(required=True)
    store_id = ma.fields.Integer(allow_none=True, required=True)
    category = ma.fields.String(allow_none=True, required=True)
    orders = ma.fields.Integer(required=True, metadata={"description": "orders with lines"})
    orders_without_lines = ma.fields.Integer(required=True)
    units_per_order = ma.fields.Float(
        allow_none=True, required=True, metadata={"description": "连带率"}
    )
    lines_per_order = ma.fields.Float(allow_none=True, required=True)
    avg_order_fen = ma.fields.Integer(allow_none=True, required=True)
    categories = ma.fields.List(ma.fields.Nested(CategorySchema), required=True)
