"""Coupons: templates marketing designs, the coupons members hold, and their redemptions."""

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
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import CreatedAt, UTCDateTime, pk, utcnow
from app.models.stock_shards import STOCK_SHARDS, shard_the_stock, split_stock  # noqa: F401

COUPON_KINDS = ("threshold_off", "amount_off", "percent_off")
VALIDITY_MODES = ("fixed", "relative")
AUDIENCES = ("all", "tiers", "new_members")
COUPON_SOURCES = (
    "claim",
    "push",
    "signup",
    "lottery",
    "referral",
    "wakeup",
    "campaign",
    "mall",
    "birthday",
    "tier_gift",
    "tier_monthly",
    "membership",
)


class CouponTemplate(CreatedAt, db.Model):
    """What a coupon is worth, when it can be claimed and used, how many exist, who may have it."""

    __tablename__ = "coupon_templates"
    __table_args__ = (
        CheckConstraint("kind in ('threshold_off','amount_off','percent_off')", name="kind_known"),
        CheckConstraint("validity_mode in ('fixed','relative')", name="validity_known"),
        CheckConstraint("audience in ('all','tiers','new_members')", name="audience_known"),
        CheckConstraint("limit_per_member >= 1", name="limit_positive"),
    )

    id: Mapped[pk]
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16))
    amount_off_fen: Mapped[int] = mapped_column(Integer, default=0)
    threshold_fen: Mapped[int] = mapped_column(Integer, default=0)
    percent_off: Mapped[int] = mapped_column(Integer, default=0)  # 20 = 20% off (八折)
    max_discount_fen: Mapped[int | None] = mapped_column(Integer)
    validity_mode: Mapped[str] = mapped_column(String(8))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_days: Mapped[int | None] = mapped_column(Integer)
    claim_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The sum of the shards' stock (CouponStockShard); what was issued is the sum of theirs.
    stock_total: Mapped[int] = mapped_column(Integer)
    limit_per_member: Mapped[int] = mapped_column(Integer, default=1)
    audience: Mapped[str] = mapped_column(String(16), default="all")
    audience_tiers: Mapped[list] = mapped_column(JSON, default=list)
    new_member_days: Mapped[int] = mapped_column(Integer, default=30)
    claimable: Mapped[bool] = mapped_column(Boolean, default=True)  # shown in the mini-program
    signup_gift: Mapped[bool] = mapped_column(Boolean, default=False)  # given at sign-up
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def stock_left(self) -> int:
        return self.stock_total - self.issued


class CouponStockShard(db.Model):
    """One counter of a template's stock: `issued` of its `stock` have been given out."""

    __tablename__ = "coupon_stock_shards"
    __table_args__ = (
        # The stock guard of last resort: never more issued than there are.
        CheckConstraint("issued >= 0 and issued <= stock", name="issued_within_stock"),
    )

    template_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("coupon_templates.id"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    stock: Mapped[int] = mapped_column(Integer)
    issued: Mapped[int] = mapped_column(Integer, default=0)


# What was issued: the sum of the shards' (a flash sale's claims each lock one shard).
shard_the_stock(CouponTemplate, CouponStockShard, "template_id", "issued")


class CouponHolding(db.Model):
    """How many coupons of a template a member has received (capped by a conditional increment)."""

    __tablename__ = "coupon_holdings"
    __table_args__ = (UniqueConstraint("template_id", "member_id"),)

    id: Mapped[pk]
    template_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("coupon_templates.id"))
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"), index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Coupon(CreatedAt, db.Model):
    """One coupon a member holds. `expired` is not stored: it is an unused coupon past its end."""

    __tablename__ = "coupons"
    __table_args__ = (
        # voided: its member closed the account; it can no longer be used.
        CheckConstraint("status in ('unused','used','voided')", name="status_known"),
        Index("ix_coupons_member_status_until", "member_id", "status", "valid_until"),
        Index("ix_coupons_template_id", "template_id"),
    )

    id: Mapped[pk]
    code: Mapped[str] = mapped_column(String(20), unique=True)
    template_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("coupon_templates.id"))
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"))
    source: Mapped[str] = mapped_column(String(16))
    # Unique: one reason (a claim, a push to a member, a draw) gives at most one coupon.
    ref: Mapped[str] = mapped_column(String(96), unique=True)
    status: Mapped[str] = mapped_column(String(8), default="unused")
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Read-only: coupons are written by statements (ON CONFLICT, conditional updates) only.
    template: Mapped[CouponTemplate] = relationship(viewonly=True)


class CouponRedemption(CreatedAt, db.Model):
    """A coupon used on an order at a till; reversed (the coupon comes back) on a refund."""

    __tablename__ = "coupon_redemptions"
    __table_args__ = (
        CheckConstraint("status in ('applied','reversed')", name="status_known"),
        Index("ix_coupon_redemptions_store_order", "store_id", "order_no"),
    )

    id: Mapped[pk]
    coupon_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("coupons.id"), index=True)
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"))
    store_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("stores.id"))
    staff_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("staff.id"))
    order_no: Mapped[str] = mapped_column(String(64))
    order_amount_fen: Mapped[int] = mapped_column(Integer)
    discount_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8), default="applied")
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reversed_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    reversal_reason: Mapped[str] = mapped_column(String(200), default="")


class CouponPush(CreatedAt, db.Model):
    """A marketing push of a template to a list of members (the key makes a repeat a no-op)."""

    __tablename__ = "coupon_pushes"
    __table_args__ = (UniqueConstraint("template_id", "push_key"),)

    id: Mapped[pk]
    template_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("coupon_templates.id"))
    push_key: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("staff.id"))
    requested: Mapped[int] = mapped_column(Integer, default=0)
    issued: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[dict] = mapped_column(JSON, default=dict)
