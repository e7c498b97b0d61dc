"""The points ledger: append-only entries and the lots that earnings fill (one per member and
expiry date: earnings that expire together share a lot)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import CreatedAt, pk


class PointEntry(CreatedAt, db.Model):
    """One movement of a member's points. Never updated except to fill in balance_after."""

    __tablename__ = "point_entries"
    __table_args__ = (
        Index("ix_point_entries_member_id_id", "member_id", "id"),
        Index("ix_point_entries_member_reason_created", "member_id", "reason", "created_at"),
        Index(
            "ix_point_entries_reverses_entry_id",
            "reverses_entry_id",
            postgresql_where=text("reverses_entry_id IS NOT NULL"),
        ),
        CheckConstraint("delta <> 0", name="delta_not_zero"),
    )

    id: Mapped[pk]
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"))
    # 64-bit: a balance passes 2^31 after 15 purchases of ¥1,000,000 at 100 points a yuan.
    delta: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(24))
    # Unique: the same earning or spending (a purchase, a check-in day, a draw) happens once.
    ref: Mapped[str] = mapped_column(String(96), unique=True)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    expires_on: Mapped[date | None] = mapped_column(Date)
    staff_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    store_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("stores.id"))
    note: Mapped[str] = mapped_column(String(200), default="")
    # A reversal (a refund's debit) names the earning it takes back: it takes first from that
    # earning's lot what the earning still has unspent (ledger.rules.TAKE).
    reverses_entry_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("point_entries.id")
    )


class PointLot(CreatedAt, db.Model):
    """A member's points that expire on one day: every earning with that expiry date adds to it
    (earned and remaining grow together); spending takes the soonest-expiring first."""

    __tablename__ = "point_lots"
    __table_args__ = (
        UniqueConstraint("member_id", "expires_on"),
        Index("ix_point_lots_expires_on", "expires_on"),
        CheckConstraint("remaining >= 0 and remaining <= earned", name="remaining_bounded"),
    )

    id: Mapped[pk]
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"))
    earned: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    expires_on: Mapped[date] = mapped_column(Date)
