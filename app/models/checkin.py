from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import CreatedAt, pk


class Checkin(CreatedAt, db.Model):
    """A member's check-in for one business day (daily, or made up later)."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("member_id", "day"),)

    id: Mapped[pk]
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"))
    day: Mapped[date] = mapped_column(Date)
    streak: Mapped[int] = mapped_column(Integer)
    points_awarded: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8), default="daily")  # daily | makeup


class MakeupAllowance(db.Model):
    """Make-ups used by a member in one calendar month (capped by a conditional increment)."""

    __tablename__ = "makeup_allowances"
    __table_args__ = (UniqueConstraint("member_id", "month"),)

    id: Mapped[pk]
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    used: Mapped[int] = mapped_column(Integer, default=0)
