"""Personal data and secrets kept encrypted at rest, and the keyed hash that finds a phone.

Encryption: Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under DATA_ENCRYPTION_KEY,
a comma-separated list of keys read as a MultiFernet: the first encrypts, every one decrypts, so
a new key is put first, `flask --app wsgi keys rotate` re-encrypts every row under it, and the old
key is then dropped from the list. What is encrypted: POS keys' HMAC secrets (a hash would not
do: verifying an HMAC needs the secret), members' phones and WeChat session keys. A copy of the
database alone gives none of them away.

Lookup: a phone is found by `phone_hash`, HMAC-SHA256 under PHONE_HASH_KEY (hex): equal phones
give equal hashes, so the unique constraint and the index work on it, and without the key the
hash cannot be tested against the billion or so mobile numbers (a plain SHA-256 could, in
minutes).
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

__all__ = ["InvalidToken", "decrypt", "encrypt", "phone_hash", "rotate"]


@functools.lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


def _current() -> MultiFernet:
    return _fernet(current_app.config["DATA_ENCRYPTION_KEY"])


def encrypt(plain: str) -> str:
    """The token of `plain` under the first DATA_ENCRYPTION_KEY."""
    return _current().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """The plain text; cryptography.fernet.InvalidToken when no configured key encrypted it."""
    return _current().decrypt(token.encode()).decode()


def decrypt_or_none(token: str | None) -> str | None:
    return decrypt(token) if token else None


def rotate(token: str) -> str:
    """The same plain text encrypted again under the first key (InvalidToken as decrypt)."""
    return _current().rotate(token.encode()).decode()


def phone_hash(phone: str | None) -> str | None:
    """The keyed hash phones are looked up and kept unique by (64 hex characters)."""
    if not phone:
        return None
    key = current_app.config["PHONE_HASH_KEY"].encode()
    return hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()


def phone_columns(phone: str | None) -> dict:
    """The member columns that hold `phone` (None: no phone)."""
    if not phone:
        return {"phone_encrypted": None, "phone_hash": None}
    return {"phone_encrypted": encrypt(phone), "phone_hash": phone_hash(phone)}
