"""The one audience filter that segments, campaigns, pushes and wake-ups all use."""

from __future__ import annotations

import marshmallow as ma

from app.models.segments import LIFECYCLE_STAGES, RFM_GROUPS
from app.schemas.common import cursor_arg, next_cursor_field

_SHORT_TEXT = ma.validate.Length(min=1, max=32)
_PROBABILITY = ma.validate.Range(min=0.0, max=1.0)
_LIST_LIMIT = ma.validate.Length(max=1000)


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
