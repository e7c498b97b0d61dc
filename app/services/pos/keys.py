"""A store's POS keys: made by an admin (the secret shown once), revoked by an admin.

Each key has its own till identity: a staff row of role clerk at the key's store, inactive and
with an unknowable password, so it never signs in. The till's services then record what the POS
does exactly as a clerk's work (scans, purchases, refunds, coupons, the audit trail), with the
key's store as the store.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from app import clock, encryption
from app.errors import AppError
from app.models import Staff
from app.models.pos import PosKey
from app.services.staff import audit, get_store


class NewPosKey(NamedTuple):
    """A key just made: the only time its secret is shown."""

    key: PosKey
    secret: str


def create_key(session: Session, store_id: int, by: Staff, now: datetime | None = None):
    """A new POS key for the store (404 for an unknown store): its key id and its secret, which
    is kept encrypted and never shown again. Audited."""
    now = now or clock.now()
    store = get_store(session, store_id)
    key_id = "pk_" + secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    till = Staff(
        username=f"pos:{key_id}",
        # Random and never told to anyone: the till identity cannot sign in (it is inactive
        # too). A fast hash is enough for 256 random bits.
        password_hash=generate_password_hash(secrets.token_urlsafe(32), "pbkdf2:sha256:1000"),
        role="clerk",
        store_id=store.id,
        display_name=f"POS {key_id}",
        is_active=False,
    )
    session.add(till)
    session.flush()
    key = PosKey(
        key_id=key_id,
        store_id=store.id,
        staff_id=till.id,
        secret_encrypted=encryption.encrypt(secret),
        created_by=by.id,
        created_at=now,
    )
    session.add(key)
    session.flush()
    audit.record(session, by, "pos_key.create", "pos_key", key_id, {}, store_id=store.id)
    session.commit()
    return NewPosKey(key, secret)


def revoke_key(session: Session, store_id: int, key_id: str, by: Staff, now=None) -> PosKey:
    """Revoke the store's key at once: its next request is 401 pos.key_revoked. Revoking twice
    changes nothing; another store's key or an unknown one is 404. Audited once."""
    now = now or clock.now()
    revoked = session.execute(
        update(PosKey)
        .where(PosKey.key_id == key_id, PosKey.store_id == store_id, PosKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(PosKey.id)
    ).scalar_one_or_none()
    if revoked is not None:
        audit.record(session, by, "pos_key.revoke", "pos_key", key_id, {}, store_id=store_id)
    key = session.execute(
        select(PosKey).where(PosKey.key_id == key_id, PosKey.store_id == store_id)
    ).scalar_one_or_none()
    if key is None:
        raise AppError("pos_key.not_found")
    session.commit()
    return key


def list_keys(session: Session, store_id: int) -> list[PosKey]:
    """The store's keys, newest first, revoked ones included (no secrets)."""
    get_store(session, store_id)
    query = select(PosKey).where(PosKey.store_id == store_id).order_by(PosKey.id.desc())
    return list(session.execute(query).scalars())
