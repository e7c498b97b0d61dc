"""Secrets the service must read back (a POS key's HMAC secret), encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under DATA_ENCRYPTION_KEY: a copy of
the database alone does not give the secrets away. A hash would not do: verifying an HMAC needs
the secret itself.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet
from flask import current_app


@functools.lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode())


def encrypt(plain: str) -> str:
    return _fernet(current_app.config["DATA_ENCRYPTION_KEY"]).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """The plain text; cryptography.fernet.InvalidToken when it was encrypted under another key."""
    return _fernet(current_app.config["DATA_ENCRYPTION_KEY"]).decrypt(token.encode()).decode()
