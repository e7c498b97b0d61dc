from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app import encryption
from app.extensions import db
from app.models.base import UTCDateTime, pk, utcnow


class Member(db.Model):
    __tablename__ = "members"
    __table_args__ = (CheckConstraint("gender in (0, 1, 2)", name="gender_known"),)

    id: Mapped[pk]
    member_no: Mapped[str] = mapped_column(String(20), unique=True)
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The WeChat session_key never leaves the server (API answers, logs): see services.members.
    # It and the phone are kept encrypted (app.encryption); a phone is found and kept unique by
    # its keyed hash. Read and set them through the `phone` and `session_key` properties below.
    session_key_encrypted: Mapped[str | None] = mapped_column(Text)
    phone_encrypted: Mapped[str | None] = mapped_column(Text)
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    nickname: Mapped[str] = mapped_column(String(64), default="")
    avatar_url: Mapped[str] = mapped_column(String(512), default="")
    birthday: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Where the member signed up, and the staff member whose invite code brought them (issue 17):
    # set once, when the member is created, never re-attributed.
    store_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("stores.id"), index=True)
    signed_up_by_staff_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    referral_code: Mapped[str] = mapped_column(String(16), unique=True)
    tier_code: Mapped[str] = mapped_column(String(32), default="")
    # The business day the nightly evaluation first found the member's earnings below their
    # tier (issue 19: the tier's grace_days count from it); None while they hold it.
    tier_below_since: Mapped[date | None] = mapped_column(Date)
    # Kept by the ledger only (services.points), in the same transaction as each entry.
    # 64-bit, as every ledger amount (app.models.points).
    points_balance: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # Set when the account is closed (注销): personal data erased, the books kept.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def phone(self) -> str | None:
        return encryption.decrypt_or_none(self.phone_encrypted)

    @phone.setter
    def phone(self, value: str | None) -> None:
        columns = encryption.phone_columns(value)
        self.phone_encrypted, self.phone_hash = columns["phone_encrypted"], columns["phone_hash"]

    @property
    def session_key(self) -> str | None:
        return encryption.decrypt_or_none(self.session_key_encrypted)

    @session_key.setter
    def session_key(self, value: str | None) -> None:
        self.session_key_encrypted = encryption.encrypt(value) if value else None
