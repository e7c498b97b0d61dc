"""Messaging: subscribe-message quotas, official-account followers, the outbox, campaigns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import CreatedAt, UTCDateTime, pk, utcnow


class SubscriptionQuota(db.Model):
    """How many subscribe messages of one template a member has allowed (one per acceptance)."""

    __tablename__ = "subscription_quotas"
    __table_args__ = (CheckConstraint("available >= 0", name="available_not_negative"),)

    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    available: Mapped[int] = mapped_column(Integer, default=0)
    accepted_total: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class OaFollower(db.Model):
    """A follower of the official account; linked to a member by unionid (never stored twice)."""

    __tablename__ = "oa_followers"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    following: Mapped[bool] = mapped_column(Boolean, default=True)
    # The store whose parametric QR code first brought the follower (first touch wins).
    store_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("stores.id"), index=True)
    # The staff member whose QR code (scene `staff_<code>`) first brought the follower.
    staff_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    scene: Mapped[str | None] = mapped_column(String(64))
    followed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unfollowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class OaQrCode(CreatedAt, db.Model):
    """A permanent parametric QR code of the official account (QR_LIMIT_STR_SCENE), created once
    per scene: WeChat allows 100,000 permanent codes, so a ticket is kept, never made again."""

    __tablename__ = "oa_qr_codes"

    scene: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(255), default="")


class OutboxMessage(CreatedAt, db.Model):
    """One message to one member, written before anything is sent; unique per purpose and key.

    States: pending → claimed (a dispatcher took it) → sending (about to call WeChat) → sent,
    failed, skipped or uncertain (a subscribe send that may have gone out: never resent);
    cancelled (its campaign was cancelled before it was sent).
    """

    __tablename__ = "message_outbox"
    __table_args__ = (
        UniqueConstraint("purpose", "member_id", "dedupe_key"),
        # The dispatcher's claim walks this index in order: due rows first, oldest first.
        Index("ix_message_outbox_state_not_before", "state", "not_before", "id"),
        Index("ix_message_outbox_campaign_state", "campaign_id", "state"),
        Index("ix_message_outbox_member_purpose", "member_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    purpose: Mapped[str] = mapped_column(String(32))  # points_expiry | dormant_wakeup | campaign
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"))
    dedupe_key: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("campaigns.id"))
    marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    params: Mapped[dict | None] = mapped_column(JSON)  # values captured when queued
    state: Mapped[str] = mapped_column(String(16), default="pending")
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    channel: Mapped[str | None] = mapped_column(String(16))  # subscribe | oa
    reason: Mapped[str | None] = mapped_column(String(64))
    errcode: Mapped[int | None] = mapped_column(Integer)
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The first official-account attempt: WeChat dedupes client_msg_id for 10 minutes only.
    first_oa_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # This message holds the member's marketing stamp (given back if it is not sent after all).
    cap_taken: Mapped[bool] = mapped_column(Boolean, default=False)
    msgid: Mapped[int | None] = mapped_column(BigInteger, index=True)
    delivery: Mapped[str | None] = mapped_column(String(64))  # TEMPLATESENDJOBFINISH status
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MarketingStamp(db.Model):
    """When a member was last sent a marketing message (the per-member cap reads and takes it)."""

    __tablename__ = "marketing_stamps"

    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"), primary_key=True)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Campaign(CreatedAt, db.Model):
    """A marketing push to an audience at a time, with a random holdout to measure its effect."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(
            "status in ('draft','scheduled','sending','sent','cancelled')", name="status_known"
        ),
        CheckConstraint("holdout_bp >= 0 and holdout_bp <= 5000", name="holdout_bounded"),
        Index("ix_campaigns_status_send_at", "status", "send_at"),
    )

    id: Mapped[pk]
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    audience: Mapped[dict] = mapped_column(JSON, default=dict)
    channel: Mapped[str] = mapped_column(String(16), default="auto")  # auto | subscribe | oa
    # {"subscribe": {"template_id", "data": {key: text}}, "oa": {...}} with {placeholders}
    template: Mapped[dict] = mapped_column(JSON, default=dict)
    page: Mapped[str] = mapped_column(String(128), default="")
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    coupon_template_id: Mapped[int | None] = mapped_column(BigInteger)
    holdout_bp: Mapped[int] = mapped_column(Integer, default=1000)  # basis points of 10,000
    holdout_salt: Mapped[int] = mapped_column(BigInteger, default=0)
    report_days: Mapped[int] = mapped_column(Integer, default=7)
    # The category the campaign promotes: its report measures who bought it (issue 18).
    promoted_category: Mapped[str | None] = mapped_column(String(64))
    targeted: Mapped[int] = mapped_column(Integer, default=0)
    held_out: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CampaignMember(db.Model):
    """Who a campaign targeted, and whether they were held out (stable per member and campaign)."""

    __tablename__ = "campaign_members"

    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"), primary_key=True)
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
