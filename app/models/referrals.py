"""Referrals: who brought whom, the rewards that follow, and identities already seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
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
from app.models.base import CreatedAt, UTCDateTime, pk


class Referral(CreatedAt, db.Model):
    """A new member bound to the member who invited them (first touch: one per invitee)."""

    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(
            "status in ('bound','qualified','rewarded','rejected')", name="status_known"
        ),
        Index("ix_referrals_referrer_created", "referrer_id", "created_at"),
    )

    id: Mapped[pk]
    referrer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"))
    invitee_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="bound")
    reject_reason: Mapped[str] = mapped_column(String(32), default="")
    # A suspicious burst: rewards wait for a marketer's review instead of being paid.
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    qualify_by: Mapped[datetime] = mapped_column(UTCDateTime())
    qualifying_purchase_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("purchases.id"), index=True
    )
    qualified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rewarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReferralReward(CreatedAt, db.Model):
    """Points and/or a coupon owed to the referrer or the invitee; granted when due by the job."""

    __tablename__ = "referral_rewards"
    __table_args__ = (
        UniqueConstraint("referral_id", "role"),
        CheckConstraint("role in ('referrer','invitee')", name="role_known"),
        CheckConstraint("status in ('pending','held','granted','cancelled')", name="status_known"),
        Index("ix_referral_rewards_status_due", "status", "due_at"),
    )

    id: Mapped[pk]
    referral_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("referrals.id"))
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"), index=True)
    role: Mapped[str] = mapped_column(String(8))
    points: Mapped[int] = mapped_column(Integer, default=0)
    coupon_template_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("coupon_templates.id")
    )
    status: Mapped[str] = mapped_column(String(10), default="pending")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    coupon_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("coupons.id"))
    note: Mapped[str] = mapped_column(String(200), default="")


class MemberIdentity(CreatedAt, db.Model):
    """A phone or unionid the first time it was seen on a member (sha256, never the raw value)."""

    __tablename__ = "member_identities"
    __table_args__ = (UniqueConstraint("kind", "digest"),)

    id: Mapped[pk]
    kind: Mapped[str] = mapped_column(String(8))  # phone | unionid
    digest: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"), index=True)
