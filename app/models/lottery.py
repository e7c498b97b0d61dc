"""The points lottery: lotteries, their prizes, daily counters, and every draw for audit."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import CreatedAt, UTCDateTime, pk, utcnow

PRIZE_KINDS = ("points", "coupon", "physical", "none")


class Lottery(CreatedAt, db.Model):
    __tablename__ = "lotteries"
    __table_args__ = (
        CheckConstraint("cost_points >= 0", name="cost_not_negative"),
        CheckConstraint("daily_draw_limit >= 1", name="daily_limit_positive"),
        # Points prizes never pay out more than the budget.
        CheckConstraint(
            "points_budget is null or points_given <= points_budget", name="within_budget"
        ),
    )

    id: Mapped[pk]
    name: Mapped[str] = mapped_column(String(64))
    cost_points: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    daily_draw_limit: Mapped[int] = mapped_column(Integer, default=3)
    # 64-bit: the points given add up over every draw of the lottery.
    points_budget: Mapped[int | None] = mapped_column(BigInteger)
    points_given: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Read-only, for showing: prizes are written on their own (and their stock by statements).
    prizes: Mapped[list[LotteryPrize]] = relationship(viewonly=True, order_by="LotteryPrize.id")


class LotteryPrize(db.Model):
    """A slot in the wheel: its weight, what it gives, and how many can be won (overall, a day)."""

    __tablename__ = "lottery_prizes"
    __table_args__ = (
        CheckConstraint("kind in ('points','coupon','physical','none')", name="kind_known"),
        CheckConstraint("weight >= 0", name="weight_not_negative"),
        CheckConstraint("won >= 0 and won <= stock_total", name="won_within_stock"),
    )

    id: Mapped[pk]
    lottery_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lotteries.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    weight: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer, default=0)
    coupon_template_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("coupon_templates.id")
    )
    stock_total: Mapped[int] = mapped_column(Integer, default=0)
    won: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def stock_left(self) -> int:
        return self.stock_total - self.won


class PrizeDailyRelease(db.Model):
    """How many of a prize were won on one business day (capped by a conditional increment)."""

    __tablename__ = "prize_daily_releases"
    __table_args__ = (UniqueConstraint("prize_id", "day"),)

    id: Mapped[pk]
    prize_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lottery_prizes.id"))
    day: Mapped[date] = mapped_column(Date)
    released: Mapped[int] = mapped_column(Integer, default=0)


class LotteryDrawAllowance(db.Model):
    """Draws a member made in one lottery on one business day."""

    __tablename__ = "lottery_draw_allowances"
    __table_args__ = (UniqueConstraint("lottery_id", "member_id", "day"),)

    id: Mapped[pk]
    lottery_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lotteries.id"))
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    used: Mapped[int] = mapped_column(Integer, default=0)


class LotteryDraw(CreatedAt, db.Model):
    """One draw, kept for audit: what the generator picked, what was awarded, what it cost."""

    __tablename__ = "lottery_draws"
    __table_args__ = (
        Index("ix_lottery_draws_lottery_member", "lottery_id", "member_id"),
        Index("ix_lottery_draws_member_id", "member_id", "id"),
    )

    id: Mapped[pk]
    lottery_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("lotteries.id"))
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"))
    day: Mapped[date] = mapped_column(Date)
    points_spent: Mapped[int] = mapped_column(Integer)
    picked_prize_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("lottery_prizes.id"))
    prize_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("lottery_prizes.id"))
    # won | no_prize | out_of_stock | daily_cap | budget | coupon_refused
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    coupon_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("coupons.id"))
    points_won: Mapped[int] = mapped_column(Integer, default=0)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fulfilled_store_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("stores.id"))
    fulfilled_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
