"""Paid membership (付费会员): the plans on sale, the orders paid through WeChat Pay, and each
member's membership (one row: the plan last bought and the days it covers)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import CreatedAt, UTCDateTime, pk, utcnow

ORDER_STATUSES = ("pending", "paid", "closed", "refunding", "refunded")


class MembershipPlan(CreatedAt, db.Model):
    """A plan on sale: its price, how many months it adds, the points multiplier it gives at the
    till (in percent: 150 is x1.5) and the coupon templates issued each month."""

    __tablename__ = "membership_plans"
    __table_args__ = (
        CheckConstraint("price_fen > 0", name="price_positive"),
        CheckConstraint("months between 1 and 120", name="months_range"),
        CheckConstraint("multiplier_percent >= 100", name="multiplier_at_least_one"),
    )

    id: Mapped[pk]
    name: Mapped[str] = mapped_column(String(64))
    price_fen: Mapped[int] = mapped_column(Integer)
    months: Mapped[int] = mapped_column(Integer)
    multiplier_percent: Mapped[int] = mapped_column(Integer, default=100)
    monthly_coupons: Mapped[list] = mapped_column(JSON, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def multiplier(self) -> float:
        return self.multiplier_percent / 100


class MembershipOrder(CreatedAt, db.Model):
    """One purchase of a plan: pending until WeChat Pay says it is paid (once: a conditional
    update on `status`), then the days it added (`period_start`..`period_end`); a refund is
    `refund_no` (unique), claimed once."""

    __tablename__ = "membership_orders"
    __table_args__ = (
        CheckConstraint(
            "status in ('pending','paid','closed','refunding','refunded')", name="status_known"
        ),
        Index(
            "ix_membership_orders_pending",
            "created_at",
            postgresql_where=text("status in ('pending','refunding')"),
        ),
    )

    id: Mapped[pk]
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"), index=True)
    plan_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("membership_plans.id"))
    amount_fen: Mapped[int] = mapped_column(Integer)
    months: Mapped[int] = mapped_column(Integer)
    multiplier_percent: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    transaction_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    refund_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    refund_fen: Mapped[int | None] = mapped_column(Integer)
    refund_months: Mapped[int | None] = mapped_column(Integer)
    refund_reason: Mapped[str | None] = mapped_column(String(200))
    refund_status: Mapped[str | None] = mapped_column(String(16))
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refunded_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))


class Membership(db.Model):
    """A member's paid membership: active on the business days `starts_on`..`ends_on`
    (inclusive). Extended by each paid order, ended by a refund."""

    __tablename__ = "memberships"

    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"), primary_key=True)
    plan_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("membership_plans.id"))
    multiplier_percent: Mapped[int] = mapped_column(Integer, default=100)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
