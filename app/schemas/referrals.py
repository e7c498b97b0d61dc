from __future__ import annotations

from datetime import datetime

import marshmallow as ma

from app.schemas.common import ModelResultSchema, computed, cursor_arg, next_cursor_field

POINTS = ma.validate.Range(min=0, max=1_000_000)


class StoredInstant(ma.fields.AwareDateTime):
    """An instant the program settings store as ISO text (or null)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, str):
            value = datetime.fromisoformat(value) if value else None
        return super()._serialize(value, attr, obj, **kwargs)


class InviteeSchema(ModelResultSchema):
    """A `referrals.Invitee`."""

    nickname = ma.fields.String(required=True)
    status = ma.fields.String(
        required=True, metadata={"description": "bound, qualified, rewarded or rejected"}
    )
    bound_at = ma.fields.AwareDateTime(required=True, attribute="created_at")
    qualify_by = ma.fields.AwareDateTime()
    qualified_at = ma.fields.AwareDateTime(allow_none=True)
    rewarded_at = ma.fields.AwareDateTime(allow_none=True)
    rejected_at = ma.fields.AwareDateTime(allow_none=True)


class RewardSchema(ma.Schema):
    role = ma.fields.String(required=True)
    points = ma.fields.Integer(required=True)
    coupon_template_id = ma.fields.Integer(allow_none=True)
    # A reward held for review is simply pending to the member.
    status = computed(
        ma.fields.String,
        lambda reward: "pending" if reward.status == "held" else reward.status,
        required=True,
        metadata={"description": "pending, granted, cancelled"},
    )
    due_at = ma.fields.AwareDateTime(required=True)
    granted_at = ma.fields.AwareDateTime(allow_none=True)


class ReferralProgramBriefSchema(ma.Schema):
    min_purchase_fen = ma.fields.Integer()
    qualify_within_days = ma.fields.Integer()
    refund_window_days = ma.fields.Integer()
    referrer_points = ma.fields.Integer()
    invitee_points = ma.fields.Integer()


class MyReferralsSchema(ma.Schema):
    """A `referrals.MyReferrals`."""

    referral_code = ma.fields.String(required=True)
    program = ma.fields.Nested(ReferralProgramBriefSchema)
    invitees = ma.fields.List(ma.fields.Nested(InviteeSchema), required=True)
    rewards = ma.fields.List(ma.fields.Nested(RewardSchema), required=True)


class ReferralProgramSchema(ma.Schema):
    enabled = ma.fields.Boolean(required=True)
    starts_at = StoredInstant(load_default=None, allow_none=True)
    ends_at = StoredInstant(load_default=None, allow_none=True)
    min_purchase_fen = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=0, max=10**9)
    )
    qualify_within_days = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=365)
    )
    refund_window_days = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=0, max=365)
    )
    referrer_points = ma.fields.Integer(required=True, validate=POINTS)
    referrer_coupon_template_id = ma.fields.Integer(load_default=None, allow_none=True)
    invitee_points = ma.fields.Integer(required=True, validate=POINTS)
    invitee_coupon_template_id = ma.fields.Integer(load_default=None, allow_none=True)
    daily_cap = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=10_000))
    monthly_cap = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=100_000))
    burst_window_minutes = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=1440)
    )
    burst_max = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=10_000))
    poster_page = ma.fields.String(
        load_default="pages/index/index",
        validate=ma.validate.Regexp(
            r"^[A-Za-z0-9_\-/]{1,128}$", error="A page path, no slash first."
        ),
    )

    @ma.validates_schema
    def window(self, data, **_):
        if data.get("starts_at") and data.get("ends_at") and data["starts_at"] >= data["ends_at"]:
            raise ma.ValidationError("ends_at must be after starts_at.", "ends_at")
        if data.get("poster_page", "").startswith("/"):
            raise ma.ValidationError("No leading slash.", "poster_page")


class ReferralAdminSchema(ma.Schema):
    id = ma.fields.Integer()
    referrer_id = ma.fields.Integer()
    invitee_id = ma.fields.Integer()
    status = ma.fields.String()
    reject_reason = ma.fields.String()
    flagged = ma.fields.Boolean()
    reviewed_by = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    qualified_at = ma.fields.AwareDateTime(allow_none=True)


class ReferralAdminPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ReferralAdminSchema), required=True)
    next_cursor = next_cursor_field()


class ReferralListArgsSchema(ma.Schema):
    flagged = ma.fields.Boolean(load_default=False)
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))
    cursor = cursor_arg()


class ReviewSchema(ma.Schema):
    approve = ma.fields.Boolean(required=True)
