"""Points promotions (会员日, double points): a multiplier on the tier's points for purchases on
some days, at some stores, for some tiers or categories; and what each purchase got from one."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Numeric,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import CreatedAt, UTCDateTime, pk


class Promotion(CreatedAt, db.Model):
    __tablename__ = "promotions"
    __table_args__ = (
        CheckConstraint("multiplier > 1", name="multiplier_above_one"),
        CheckConstraint("ends_at > starts_at", name="window_not_empty"),
    )

    id: Mapped[pk]
    name: Mapped[str] = mapped_column(String(64))
    # 2 = double points; two decimals (1.5 = half as many again).
    multiplier: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    weekdays: Mapped[list | None] = mapped_column(JSON)  # ISO 1 (Monday) .. 7; None: any day
    month_days: Mapped[list | None] = mapped_column(JSON)  # 1 .. 31; None: any day
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    store_ids: Mapped[list | None] = mapped_column(JSON)  # None: every store
    tiers: Mapped[list | None] = mapped_column(JSON)  # tier codes; None: every tier
    categories: Mapped[list | None] = mapped_column(JSON)  # line categories; None: whole order
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))


class PurchasePromotion(db.Model):
    """The promotion a purchase earned by and the extra points it gave (part of the purchase's
    points_awarded, so refunds reverse them as the rest)."""

    __tablename__ = "purchase_promotions"

    purchase_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("purchases.id"), primary_key=True
    )
    promotion_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("promotions.id"), primary_key=True, index=True
    )
    points: Mapped[int] = mapped_column(BigInteger)
