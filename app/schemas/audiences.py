"""The one audience filter that segments, campaigns, pushes and wake-ups all use."""

from __future__ import annotations

import marshmallow as ma

from app.models.segments import LIFECYCLE_STAGES, RFM_GROUPS
from app.schemas.common import cursor_arg, next_cursor_field

_SHORT_TEXT = ma.validate.Length(min=1, max=32)
_PROBABILITY = ma.validate.Range(min=0.0, max=1.0)
_LIST_LIMIT = ma.validate.Length(max=1000)
_CODE = ma.validate.Length(min=1, max=64)  # a sku or a category, as purchase_lines keep them
# Ten years: purchases further back say little about what a member buys now.
_WITHIN_DAYS = ma.validate.Range(min=1, max=3650)
# The largest launch audience ranked at once (a campaign's send at 50 messages/s: 30 minutes).
MAX_LIKELY_BUYERS = 100_000


def _codes(what: str):
    return ma.fields.List(
        ma.fields.String(validate=_CODE),
        required=True,
        validate=ma.validate.Length(min=1, max=1000),
        metadata={"description": f"order-line {what}; any of them"},
    )


class _BoughtSchema(ma.Schema):
    within_days = ma.fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=_WITHIN_DAYS,
        metadata={"description": "in the last N business days, today included; none: ever"},
    )


class BoughtCategoriesSchema(_BoughtSchema):
    categories = _codes("categories")


class BoughtSkusSchema(_BoughtSchema):
    skus = _codes("skus")


class LikelyBuyersSchema(ma.Schema):
    category = ma.fields.String(
        required=True, validate=_CODE, metadata={"description": "the category to launch"}
    )
    top = ma.fields.Integer(
        strict=True,
        required=True,
        validate=ma.validate.Range(min=1, max=MAX_LIKELY_BUYERS),
        metadata={"description": "how many members, the likeliest first"},
    )


class AudienceFilterSchema(ma.Schema):
    """Every criterion is optional and they combine with AND; a list matches any of its values.

    An empty filter is every member.
    """

    lifecycle_stages = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(LIFECYCLE_STAGES)),
        validate=_LIST_LIMIT,
        metadata={"description": "new, active, sleeping, lost"},
    )
    rfm_groups = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(RFM_GROUPS)),
        validate=_LIST_LIMIT,
        metadata={"description": "重要价值, 重要发展, 重要保持, 重要挽留, 一般价值, ..."},
    )
    tiers = ma.fields.List(
        ma.fields.String(validate=_SHORT_TEXT),
        validate=_LIST_LIMIT,
        metadata={"description": "tier codes, e.g. normal, silver, gold"},
    )
    store_ids = ma.fields.List(
        ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1)),
        validate=_LIST_LIMIT,
        metadata={"description": "the store where the member signed up"},
    )
    points_min = ma.fields.Integer(strict=True, allow_none=True)
    points_max = ma.fields.Integer(strict=True, allow_none=True)
    last_purchase_from = ma.fields.Date(
        allow_none=True, metadata={"description": "business day, inclusive"}
    )
    last_purchase_to = ma.fields.Date(
        allow_none=True, metadata={"description": "business day, inclusive"}
    )
    p_alive_min = ma.fields.Float(allow_none=True, validate=_PROBABILITY)
    p_alive_max = ma.fields.Float(allow_none=True, validate=_PROBABILITY)
    paid_member = ma.fields.Boolean(
        allow_none=True,
        metadata={"description": "true: paid members (付费会员) today; false: everyone else"},
    )
    bought_categories = ma.fields.Nested(
        BoughtCategoriesSchema,
        allow_none=True,
        metadata={"description": "bought a line of one of these categories (refunds left out)"},
    )
    bought_skus = ma.fields.Nested(
        BoughtSkusSchema,
        allow_none=True,
        metadata={"description": "bought one of these skus (refunds left out)"},
    )
    likely_buyers_of = ma.fields.Nested(
        LikelyBuyersSchema,
        allow_none=True,
        metadata={
            "description": "the `top` members, among those the other criteria select, likeliest "
            "to buy `category` and who have not bought it yet, ranked by the lift of what they "
            "buy towards it (members whose purchases point away from it are left out)"
        },
    )

    @ma.validates_schema
    def ranges_are_ordered(self, data: dict, **_) -> None:
        for low, high in (
            ("points_min", "points_max"),
            ("last_purchase_from", "last_purchase_to"),
            ("p_alive_min", "p_alive_max"),
        ):
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                raise ma.ValidationError(f"must not be below {low}", field_name=high)


class AudiencePreviewSchema(ma.Schema):
    filter = ma.fields.Nested(AudienceFilterSchema, load_default=dict)


class AudienceCountSchema(ma.Schema):
    count = ma.fields.Integer(required=True)

    @ma.pre_dump
    def of_count(self, count, **_):
        return {"count": count}


class AudienceMembersSchema(AudiencePreviewSchema):
    # 1000: what one coupon push takes (schemas.coupons.PushSchema.member_ids).
    limit = ma.fields.Integer(load_default=1000, validate=ma.validate.Range(min=1, max=1000))
    cursor = cursor_arg()


class AudienceMemberPageSchema(ma.Schema):
    items = ma.fields.List(
        ma.fields.Integer(), required=True, metadata={"description": "member ids"}
    )
    next_cursor = next_cursor_field()
