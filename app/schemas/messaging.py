"""Schemas of subscriptions and campaigns."""

from __future__ import annotations

import marshmallow as ma

from app.schemas.common import ChangesSchema

TEMPLATE_ID = ma.fields.String(validate=ma.validate.Length(min=1, max=64))


class SubscriptionResultSchema(ma.Schema):
    accepted = ma.fields.List(TEMPLATE_ID, load_default=list, validate=ma.validate.Length(max=20))
    rejected = ma.fields.List(TEMPLATE_ID, load_default=list, validate=ma.validate.Length(max=20))


class QuotasSchema(ma.Schema):
    quotas = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "sends available per template id"},
    )

    @ma.pre_dump
    def of_quotas(self, quotas, **_):
        return {"quotas": quotas}


class ChannelTemplateSchema(ma.Schema):
    template_id = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    data = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Regexp(r"^[a-z_]+\d+$")),
        values=ma.fields.String(validate=ma.validate.Length(min=1, max=100)),
        required=True,
        metadata={
            "description": "WeChat key -> text with placeholders {nickname}, {balance}, "
            "{expiring_points}, {expires_on}, {member_no}, {today}",
            "example": {"thing1": "{nickname}，积分好礼本周末", "number2": "{balance}"},
        },
    )


class CampaignTemplateSchema(ma.Schema):
    subscribe = ma.fields.Nested(ChannelTemplateSchema, allow_none=True)
    oa = ma.fields.Nested(ChannelTemplateSchema, allow_none=True)


class CampaignInSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    audience = ma.fields.Dict(load_default=dict, metadata={"description": "an audience filter"})
    channel = ma.fields.String(
        load_default="auto", validate=ma.validate.OneOf(["auto", "subscribe", "oa"])
    )
    template = ma.fields.Nested(CampaignTemplateSchema, load_default=dict)
    page = ma.fields.String(
        load_default="",
        validate=ma.validate.Regexp(r"^([^/?][^?]*)?$", error="A page path without / or ?."),
    )
    send_at = ma.fields.AwareDateTime(load_default=None, allow_none=True)
    coupon_template_id = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,  # 1.9 is not template 1
        validate=ma.validate.Range(min=1, max=2**63 - 1),
        metadata={"description": "an existing coupon template, given to each member reached"},
    )
    holdout_share = ma.fields.Float(load_default=0.1, validate=ma.validate.Range(min=0, max=0.5))
    report_days = ma.fields.Integer(load_default=7, validate=ma.validate.Range(min=1, max=90))
    promoted_category = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={
            "description": "the order-line category the campaign promotes: the report "
            "gives the share of treated and held-out members buying it"
        },
    )


class CampaignPatchSchema(ChangesSchema, CampaignInSchema):
    """The fields to change (load it with partial=True: absent fields keep their value)."""


class CampaignSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    audience = ma.fields.Dict()
    channel = ma.fields.String()
    template = ma.fields.Dict()
    page = ma.fields.String()
    send_at = ma.fields.AwareDateTime(allow_none=True)
    coupon_template_id = ma.fields.Integer(allow_none=True)
    holdout_share = ma.fields.Method("_share")
    report_days = ma.fields.Integer()
    promoted_category = ma.fields.String(allow_none=True)
    targeted = ma.fields.Integer()
    held_out = ma.fields.Integer()
    enqueued_at = ma.fields.AwareDateTime(allow_none=True)
    cancelled_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()

    def _share(self, obj) -> float:
        return obj.holdout_bp / 10_000


class ReportArgsSchema(ma.Schema):
    days = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=90))


class GroupSchema(ma.Schema):
    members = ma.fields.Integer()
    purchasers = ma.fields.Integer()
    purchase_share = ma.fields.Float()
    spend_fen = ma.fields.Integer()
    spend_per_member_fen = ma.fields.Float()


class CategoryGroupSchema(ma.Schema):
    members = ma.fields.Integer()
    buyers = ma.fields.Integer(metadata={"description": "bought a line of the category"})
    share = ma.fields.Float()


class PromotedCategorySchema(ma.Schema):
    category = ma.fields.String()
    treated = ma.fields.Nested(CategoryGroupSchema)
    holdout = ma.fields.Nested(CategoryGroupSchema)
    share_difference = ma.fields.Float()
    share_difference_ci95 = ma.fields.List(
        ma.fields.Float(),
        allow_none=True,
        metadata={"description": "Newcombe's hybrid score interval (Wilson), 95 %"},
    )


class EffectSchema(ma.Schema):
    window_start = ma.fields.AwareDateTime()
    window_end = ma.fields.AwareDateTime()
    treated = ma.fields.Nested(GroupSchema)
    holdout = ma.fields.Nested(GroupSchema)
    purchase_share_difference = ma.fields.Float()
    purchase_share_difference_ci95 = ma.fields.List(ma.fields.Float(), allow_none=True)
    spend_per_member_difference_fen = ma.fields.Float()
    spend_per_member_difference_ci95 = ma.fields.List(ma.fields.Float(), allow_none=True)
    promoted_category = ma.fields.Nested(
        PromotedCategorySchema,
        allow_none=True,
        metadata={"description": "null unless the campaign names a promoted_category"},
    )
    intervals = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={
            "description": "how each interval is made: purchase_share newcombe_hybrid_score "
            "(Wilson score intervals combined), spend_per_member welch_t"
        },
    )


class CampaignReportSchema(ma.Schema):
    campaign_id = ma.fields.Integer()
    status = ma.fields.String()
    targeted = ma.fields.Integer()
    held_out = ma.fields.Integer()
    queued = ma.fields.Integer()
    sent = ma.fields.Integer()
    failed = ma.fields.Integer()
    skipped = ma.fields.Integer()
    uncertain = ma.fields.Integer()
    cancelled = ma.fields.Integer()
    pending = ma.fields.Integer()
    failed_by_reason = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    skipped_by_reason = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    window_days = ma.fields.Integer()
    effect = ma.fields.Nested(EffectSchema, allow_none=True)


_HHMM = ma.validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Use HH:MM.")


class PurposeTemplatesSchema(ma.Schema):
    page = ma.fields.String(load_default="")
    subscribe = ma.fields.Nested(ChannelTemplateSchema, allow_none=True)
    oa = ma.fields.Nested(ChannelTemplateSchema, allow_none=True)


class MessagingSettingsSchema(ma.Schema):
    send_rate_per_second = ma.fields.Float(
        required=True, validate=ma.validate.Range(min=0.1, max=100_000)
    )
    send_burst = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=100_000))
    quiet_start = ma.fields.String(required=True, validate=_HHMM)
    quiet_end = ma.fields.String(required=True, validate=_HHMM)
    marketing_cap_days = ma.fields.Float(required=True, validate=ma.validate.Range(min=0, max=90))
    max_attempts = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=20))
    expiry_reminder_days = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=60)
    )
    wakeup_every_days = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=365))
    wakeup_coupon_template_id = ma.fields.Integer(allow_none=True, load_default=None)
    templates = ma.fields.Dict(
        keys=ma.fields.String(
            validate=ma.validate.OneOf(
                [
                    "points_expiry",
                    "dormant_wakeup",
                    "birthday_gift",
                    "tier_downgrade_notice",
                    "membership_expiring",
                    "membership_renewed",
                ]
            )
        ),
        values=ma.fields.Nested(PurposeTemplatesSchema),
        required=True,
    )
