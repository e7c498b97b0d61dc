"""What happens at the till: scans of member codes, purchases and their refunds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
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


class Scan(CreatedAt, db.Model):
    """A member at a till, by their member code (`via` code) or, when the shopper's phone is
    dead, by their phone number with its last four digits confirmed (`via` phone, no code);
    its id authorises till actions for 10 minutes."""

    __tablename__ = "scans"
    # A member code is accepted once: the database decides between two clerks scanning at once.
    __table_args__ = (
        UniqueConstraint("member_code", "code_step"),
        CheckConstraint(
            "(via = 'code' AND member_code IS NOT NULL AND code_step IS NOT NULL)"
            " OR (via = 'phone' AND member_code IS NULL AND code_step IS NULL)",
            name="via_known",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    via: Mapped[str] = mapped_column(String(8), default="code", server_default="code")
    member_code: Mapped[str | None] = mapped_column(String(18))
    code_step: Mapped[int | None] = mapped_column(BigInteger)
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"), index=True)
    staff_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("staff.id"))
    store_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("stores.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Indexes the migrations build on PostgreSQL only, which the models cannot declare: purchases by
# member and business day (an expression in the business time zone), read in order by the
# segments refresh. Autogenerate and the schema test leave these alone.
DATABASE_ONLY_INDEXES = frozenset({"ix_purchases_member_business_day"})


class Purchase(CreatedAt, db.Model):
    """A paid order: recorded at a till (source 'till') or loaded from history ('import')."""

    __tablename__ = "purchases"
    __table_args__ = (
        UniqueConstraint("store_id", "order_no"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        CheckConstraint("refunded_fen >= 0 and refunded_fen <= amount_fen", name="refund_bounded"),
        Index("ix_purchases_member_paid", "member_id", "paid_at"),
        Index("ix_purchases_paid_at", "paid_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    store_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("stores.id"))
    order_no: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"))
    staff_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    scan_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("scans.id"))
    source: Mapped[str] = mapped_column(String(16), default="till")
    # Money and points are 64-bit: a purchase is bounded by the schemas, but points and sums
    # over them are not (issue 14: int4 balances broke at 2^31 points).
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    points_awarded: Mapped[int] = mapped_column(BigInteger, default=0)
    points_reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    # Points at the till (issue 16): what the coupons used on the order took off, the points
    # redeemed and the fen they took off, and the redeemed points refunds gave back. What the
    # shopper paid is amount_fen - coupon_discount_fen - discount_fen (payable_fen).
    coupon_discount_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    points_redeemed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    points_returned: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # sha256 of the request that created it, to tell a replay from a different order.
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Refund(CreatedAt, db.Model):
    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("purchase_id", "refund_no"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[pk]
    purchase_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("purchases.id"), index=True)
    refund_no: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    # The redeemed points this refund gave back (issue 16).
    points_returned: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    staff_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    store_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("stores.id"))
    fingerprint: Mapped[str] = mapped_column(String(64), default="")


class PurchaseLine(db.Model):
    """One line of an order, as the POS or the till sent it; the lines' amounts add up to the
    purchase's amount_fen. `refunded_fen`: what refunds by line gave back of it."""

    __tablename__ = "purchase_lines"
    __table_args__ = (
        UniqueConstraint("purchase_id", "line_no"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        CheckConstraint(
            "refunded_fen >= 0 and refunded_fen <= amount_fen", name="line_refund_bounded"
        ),
        # Who bought a category or a sku (the audience filter, the campaign report).
        Index("ix_purchase_lines_category_purchase", "category", "purchase_id"),
        Index("ix_purchase_lines_sku_purchase", "sku", "purchase_id"),
    )

    id: Mapped[pk]
    purchase_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("purchases.id"))
    line_no: Mapped[int] = mapped_column(Integer)  # 1, 2, ... in the order sent
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class RefundLine(db.Model):
    """What a refund by line gave back of one purchase line."""

    __tablename__ = "refund_lines"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[pk]
    refund_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("refunds.id"), index=True)
    purchase_line_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("purchase_lines.id"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
