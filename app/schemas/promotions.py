"""Promotions (CRUD /staff/v1/admin/promotions) and the member's GET /api/v1/promotions."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma

from app.schemas.common import ChangesSchema, WholeListSchema, page_schema

NAME = ma.validate.Length(min=1, max=64)
# Above 1 (1 would promote nothing, below 1 would take points away: refused, 422) and at most
# 10, in hundredths: 2 is double points, 1.5 half as many again.
MULTIPLIER = ma.validate.Range(min=Decimal("1"), max=Decimal("10"), min_inclusive=False)


def _hundredths(value: Decimal) -> None:
    if value != value.quantize(Decimal("0.01")):
        raise ma.ValidationError("At most two decimals.")


class _Multiplier(ma.fields.Decimal):
    """A Decimal that refuses more than two decimals (places= would round them silently)."""

    def _deserialize(self, value, attr, data, **kwargs):
        exact = ma.fields.Decimal(as_string=False)._deserialize(value, attr, data, **kwargs)
        _hundredths(exact)
        return super()._deserialize(value, attr, data, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value)  # JSON has numbers, not decimals


def _multiplier(**kwargs):
    return _Multiplier(
        places=2,
        as_string=False,
        validate=MULTIPLIER,
        metadata={"description": "above 1, at most 10, two decimals (2: double points)"},
        **kwargs,
    )


def _days(low: int, high: int, what: str):
    return ma.fields.List(
        ma.fields.Integer(strict=True, validate=ma.validate.Range(min=low, max=high)),
        allow_none=True,
        validate=ma.validate.Length(min=1, max=high),
        metadata={"description": f"{what}, in the business time zone; null: every day"},
    )


def _codes(what: str):
    return ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
        allow_none=True,
        validate=ma.validate.Length(min=1, max=50),
        metadata={"description": f"{what}; null: all"},
    )


STORE_IDS = ma.fields.List(
    ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=2**62)),
    allow_none=True,
    validate=ma.validate.Length(min=1, max=500),
    metadata={"description": "the stores it runs at; null: every store"},
)


class _Unique:
    @ma.validates_schema
    def no_repeats(self, data, **_):
        for name in ("weekdays", "month_days", "store_ids", "tiers", "categories"):
            values = data.get(name)
            if values and len(set(values)) != len(values):
                raise ma.ValidationError("No value twice.", name)
        if data.get("weekdays") and data.get("month_days"):
            raise ma.ValidationError("Weekdays or days of the month, not both.", "month_days")


class PromotionSchema(_Unique, ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=NAME)
    multiplier = _multiplier(required=True)
    weekdays = _days(1, 7, "ISO weekdays, 1 Monday .. 7 Sunday")
    month_days = _days(1, 31, "days of the month")
    starts_at = ma.fields.AwareDateTime(required=True)
    ends_at = ma.fields.AwareDateTime(required=True)
    store_ids = STORE_IDS
    tiers = _codes("tier codes")
    categories = _codes("order line categories it promotes (those lines only)")
    is_active = ma.fields.Boolean(load_default=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)

    @ma.post_load
    def defaults(self, data, **_):
        for name in ("weekdays", "month_days", "store_ids", "tiers", "categories"):
            data.setdefault(name, None)
        return data


class PromotionPatchSchema(_Unique, ChangesSchema):
    name = ma.fields.String(validate=NAME)
    multiplier = _multiplier()
    weekdays = _days(1, 7, "ISO weekdays, 1 Monday .. 7 Sunday")
    month_days = _days(1, 31, "days of the month")
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    store_ids = STORE_IDS
    tiers = _codes("tier codes")
    categories = _codes("order line categories it promotes (those lines only)")
    is_active = ma.fields.Boolean()


PromotionPageSchema = page_schema(PromotionSchema, "PromotionPageSchema")


class OfferedPromotionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    multiplier = ma.fields.Float(required=True)
    weekdays = ma.fields.List(ma.fields.Integer(), allow_none=True, required=True)
    month_days = ma.fields.List(ma.fields.Integer(), allow_none=True, required=True)
    starts_at = ma.fields.AwareDateTime(required=True)
    ends_at = ma.fields.AwareDateTime(required=True)
    store_ids = ma.fields.List(ma.fields.Integer(), allow_none=True, required=True)
    categories = ma.fields.List(ma.fields.String(), allow_none=True, required=True)
    days = ma.fields.List(
        ma.fields.Date(),
        required=True,
        metadata={"description": "the business days, today and the next 6, it applies"},
    )
    on_now = ma.fields.Boolean(required=True)


class OfferedPromotionsSchema(WholeListSchema):
    items = ma.fields.List(ma.fields.Nested(OfferedPromotionSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
