"""The store systems (POS) that call /pos/v1: their keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import CreatedAt, UTCDateTime, pk


class PosKey(CreatedAt, db.Model):
    """A key a store's POS signs its requests with (HMAC-SHA256). The secret is kept encrypted
    (app.encryption), never plain: it is shown once, when the key is made. `staff_id` is the
    key's till identity (a staff row of role clerk at the store that cannot sign in): what the
    POS does is recorded as that staff member's till work, scans, purchases and audit rows alike."""

    __tablename__ = "pos_keys"

    id: Mapped[pk]
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    store_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("stores.id"), index=True)
    staff_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("staff.id"), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("staff.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
