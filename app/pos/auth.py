"""The POS's signed requests: the decorator that requires one (services.pos.signatures)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import g, request

from app import clock
from app.extensions import db
from app.models import Staff
from app.services.pos import signatures

SECURITY_SCHEME = "posSignature"
SECURITY_SCHEME_DOC = {
    "type": "apiKey",
    "in": "header",
    "name": "X-Pos-Signature",
    "description": "with X-Pos-Key, X-Pos-Timestamp and X-Pos-Nonce: hex HMAC-SHA256(secret,"
    " METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nhex SHA-256 of the raw body)",
}


def pos_key_required(fn: Callable) -> Callable:
    """The request is signed by a valid POS key (401 pos.* otherwise): g.pos_key, g.staff (the
    key's till identity, at the key's store) and g.auth_scope (for Idempotency-Key) are set."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        key = signatures.verify(
            db.session,
            key_id=request.headers.get("X-Pos-Key"),
            timestamp=request.headers.get("X-Pos-Timestamp"),
            nonce=request.headers.get("X-Pos-Nonce"),
            signature=request.headers.get("X-Pos-Signature"),
            method=request.method,
            path=request.path,
            body=request.get_data(cache=True),
            now=clock.now(),
        )
        g.pos_key = key
        g.staff = db.session.get(Staff, key.staff_id)
        g.auth_scope = f"pos:{key.key_id}"
        return fn(*args, **kwargs)

    apidoc = wrapper.__dict__.setdefault("_apidoc", {})
    apidoc.setdefault("manual_doc", {})["security"] = [{SECURITY_SCHEME: []}]
    return wrapper
