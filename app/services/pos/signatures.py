"""How a POS request proves it comes from a key's holder (API.md, "The POS").

The POS signs METHOD + "\n" + PATH + "\n" + TIMESTAMP + "\n" + NONCE + "\n" + hex SHA-256 of the
raw body with HMAC-SHA256 under the key's secret, and sends the hex digest. Checked here, in
this order, each failure a 401: the signature (pos.bad_signature; an unknown key is one too, so
that key ids cannot be probed), the key still valid (pos.key_revoked), the timestamp within 300
seconds of now (pos.stale_timestamp) and the nonce not seen for this key in the last 10 minutes
(pos.replayed). The nonce is only remembered for a request that passed every other check, so a
forged or stale request cannot burn a real one's nonce. Ten minutes is more than the whole
window a timestamp is accepted in (300 s either side), so no replay gets through.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import encryption
from app.errors import AppError
from app.extensions import get_redis, rkey
from app.models.pos import PosKey

MAX_SKEW_SECONDS = 300
NONCE_SECONDS = 600
MAX_NONCE_LENGTH = 128


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), path, timestamp, nonce, body_hash))


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The hex HMAC-SHA256 a POS sends as X-Pos-Signature."""
    message = string_to_sign(method, path, timestamp, nonce, body).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _bad(message: str) -> AppError:
    return AppError("pos.bad_signature", message=message)


def verify(
    session: Session,
    *,
    key_id: str | None,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
    method: str,
    path: str,
    body: bytes,
    now: datetime,
) -> PosKey:
    """The key a signed request comes from, or the 401 that refuses it."""
    if not (key_id and timestamp and nonce and signature):
        raise _bad("Send X-Pos-Key, X-Pos-Timestamp, X-Pos-Nonce and X-Pos-Signature.")
    if len(key_id) > 40 or len(nonce) > MAX_NONCE_LENGTH or len(timestamp) > 20:
        raise _bad("The request signature does not match.")
    key = session.execute(select(PosKey).where(PosKey.key_id == key_id)).scalar_one_or_none()
    try:
        secret = encryption.decrypt(key.secret_encrypted) if key is not None else None
    except InvalidToken:  # encrypted under another DATA_ENCRYPTION_KEY: unusable here
        secret = None
    expected = sign(secret or "", method, path, timestamp, nonce, body)
    if not hmac.compare_digest(expected, signature.strip().lower()) or secret is None:
        raise _bad("The request signature does not match.")
    if key.revoked_at is not None:
        raise AppError("pos.key_revoked")
    try:
        sent = int(timestamp)
    except ValueError as exc:
        raise AppError("pos.stale_timestamp", message="X-Pos-Timestamp is unix seconds.") from exc
    if abs(now.timestamp() - sent) > MAX_SKEW_SECONDS:
        raise AppError(
            "pos.stale_timestamp",
            message=f"X-Pos-Timestamp is more than {MAX_SKEW_SECONDS} s from now.",
            details={"now": int(now.timestamp())},
        )
    fresh = get_redis().set(rkey("pos_nonce", key.key_id, nonce), "1", nx=True, ex=NONCE_SECONDS)
    if not fresh:
        raise AppError("pos.replayed")
    return key
