from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import CreatedAt, UTCDateTime, pk, utcnow
from app.services import identifiers

ROLES = ("clerk", "manager", "marketer", "admin")
STORE_ROLES = ("clerk", "manager")  # bound to one store, act only there
CHAIN_ROLES = ("marketer", "admin")  # act on all stores


class Staff(CreatedAt, db.Model):
    __tablename__ = "staff"
    __table_args__ = (
        CheckConstraint("role in ('clerk','manager','marketer','admin')", name="role_known"),
        CheckConstraint(
            "(role in ('clerk','manager') and store_id is not null) "
            "or role in ('marketer','admin')",
            name="store_roles_have_store",
        ),
    )

    id: Mapped[pk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("stores.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # What this staff member's invite codes carry (scene `s=<code>`, `staff_<code>`): short,
    # stable, unique; given at creation, whatever creates the row.
    staff_code: Mapped[str] = mapped_column(
        String(8), unique=True, default=lambda: identifiers.new_staff_code()
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AuditEntry(CreatedAt, db.Model):
    """Every staff write: who, at which store, what, on what."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_target", "target_type", "target_id"),)

    id: Mapped[pk]
    staff_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("staff.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("stores.id"))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
