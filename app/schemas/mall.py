from __future__ import annotations

import marshmallow as ma

from app import clock
from app.models.mall import EXCHANGE_STATUSES, ITEM_KINDS
from app.schemas.common import (
    ChangesSchema,
    ModelResultSchema,
    WholeListSchema,
    computed,
    page_schema,
)
from app.schemas.coupons import CouponSchema
from app.services.mall import MAX_QUANTITY
from app.services.mall.mall_admin import item_status

POINTS = ma.validate.Range(min=1, max=10**8)
STOCK = ma.validate.Range(min=0, max=10**9)
LIMIT = ma.validate.Range(min=1, max=1000)
TIERS = ma.fields.List(
    ma.fields.String(validate=ma.validate.Length(min=1, max=32)),
    allow_none=True,
    validate=ma.validate.Length(max=20),
    metadata={"description": "tier codes that may exchange; null: every tier"},
)
IMAGE_URL = ma.fields.Url(
    schemes={"https", "http"}, relative=False, validate=ma.validate.Length(max=512)
)


class MallItemSchema(ma.Schema):
    """An item as marketing designs it (CRUD /staff/v1/admin/mall-items)."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=255))
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(ITEM_KINDS))
    cost_points = ma.fields.Integer(required=True, validate=POINTS, strict=True)
    coupon_template_id = ma.fields.Integer(
        load_default=None, allow_none=True, validate=ma.validate.Range(min=1, max=2**62)
    )
    stock_total = ma.fields.Integer(required=True, validate=STOCK, strict=True)
    limit_per_member = ma.fields.Integer(
        load_default=1,
        validate=LIMIT,
        strict=True,
        metadata={"description": "units a member may exchange in all (cancelled ones not counted)"},
    )
    tiers = TIERS
    starts_at = ma.fields.AwareDateTime(load_default=None, allow_none=True)
    ends_at = ma.fields.AwareDateTime(load_default=None, allow_none=True)
    image_url = IMAGE_URL
    is_active = ma.fields.Boolean(load_default=True)
    exchanged = ma.fields.Integer(dump_only=True)
    stock_left = ma.fields.Integer(dump_only=True)
    status = computed(
        ma.fields.String,
        lambda item: item_status(item, clock.now()),
        metadata={"description": "now: offered, upcoming, ended, sold_out or stopped"},
    )
    created_at = ma.fields.AwareDateTime(dump_only=True)

    @ma.post_load
    def defaults(self, data, **_):
        data.setdefault("tiers", None)
        data.setdefault("image_url", "")
        return data


class MallItemPatchSchema(ChangesSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    description = ma.fields.String(validate=ma.validate.Length(max=255))
    cost_points = ma.fields.Integer(validate=POINTS, strict=True)
    stock_total = ma.fields.Integer(validate=STOCK, strict=True)
    limit_per_member = ma.fields.Integer(validate=LIMIT, strict=True)
    tiers = TIERS
    starts_at = ma.fields.AwareDateTime(allow_none=True)
    ends_at = ma.fields.AwareDateTime(allow_none=True)
    image_url = IMAGE_URL
    is_active = ma.fields.Boolean()


MallItemPageSchema = page_schema(MallItemSchema, "MallItemPageSchema")


class OfferedItemSchema(ModelResultSchema):
    """A `mall.OfferedItem`: the item as members see it, and how many units they exchanged."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String()
    kind = ma.fields.String(required=True, metadata={"description": "coupon or goods"})
    cost_points = ma.fields.Integer(required=True)
    stock_left = ma.fields.Integer(required=True)
    limit_per_member = ma.fields.Integer(required=True)
    exchanged_by_me = ma.fields.Integer(required=True)
    tiers = ma.fields.List(ma.fields.String(), allow_none=True, required=True)
    starts_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    ends_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    image_url = ma.fields.String(required=True)


class OfferedItemsSchema(WholeListSchema):
    items = ma.fields.List(ma.fields.Nested(OfferedItemSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


class ExchangeRequestSchema(ma.Schema):
    quantity = ma.fields.Integer(
        load_default=1, validate=ma.validate.Range(min=1, max=MAX_QUANTITY), strict=True
    )


class ExchangeSchema(ma.Schema):
    """A `mall.ExchangeView`."""

    id = ma.fields.Integer(required=True)
    item_id = ma.fields.Integer(required=True)
    item_name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)
    points_spent = ma.fields.Integer(required=True)
    status = ma.fields.String(
        required=True, metadata={"description": " | ".join(EXCHANGE_STATUSES)}
    )
    coupons = ma.fields.List(
        ma.fields.Nested(CouponSchema),
        required=True,
        metadata={"description": "kind coupon: the coupons issued; goods: empty"},
    )
    pickup_code = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "kind goods: what the member shows at any store"},
    )
    created_at = ma.fields.AwareDateTime(required=True)
    collected_at = ma.fields.AwareDateTime(allow_none=True)
    collected_store_id = ma.fields.Integer(allow_none=True)
    cancelled_at = ma.fields.AwareDateTime(allow_none=True)


class ExchangeResultSchema(ma.Schema):
    """A `mall.Exchanged`: the exchange and the member's balance after it."""

    exchange = ma.fields.Nested(ExchangeSchema, required=True)
    balance = ma.fields.Integer(required=True)


ExchangePageSchema = page_schema(ExchangeSchema, "ExchangePageSchema")


class CollectSchema(ma.Schema):
    pickup_code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=32))


class PickupSchema(ma.Schema):
    """A `mall.pickups.Pickup`: something the scanned member collects at the counter."""

    kind = ma.fields.String(required=True, metadata={"description": "goods | lottery_prize"})
    id = ma.fields.Integer(required=True, metadata={"description": "the exchange or the draw"})
    name = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)
    pickup_code = ma.fields.String(allow_none=True, required=True)
    draw_id = ma.fields.Integer(allow_none=True, required=True)
    since = ma.fields.AwareDateTime(required=True)
