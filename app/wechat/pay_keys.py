"""The sandbox's WeChat Pay keys (SANDBOX=1 and tests only): never secrets, never in the repo.

Two RSA key pairs, each made once per Redis (SET NX) so that every process of a deployment (the
gunicorn workers, the scheduler) signs and verifies with the same ones: the sandbox merchant's
(its private key is what WECHAT_PAY_PRIVATE_KEY would be) and the sandbox platform's, with its
self-signed certificate (what WeChat Pay's /v3/certificates hands out). The merchant's serial,
number and API v3 key come from SECRET_KEY.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask import current_app

from app.extensions import get_redis, rkey

_cache: dict[tuple, dict] = {}


def _derived(kind: str, length: int, alphabet: str | None = None) -> str:
    mac = hmac.new(current_app.config["SECRET_KEY"].encode(), f"pay:{kind}".encode(), "sha256")
    digest = mac.hexdigest().upper() if alphabet is None else mac.hexdigest()
    return digest[:length]


def _key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _certificate_pem(key_pem: str, serial: int) -> str:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Huiyuan sandbox WeChat Pay")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _shared(name: str, make) -> dict:
    """A value made once per Redis (and cached per process)."""
    cache_key = (current_app.config["REDIS_KEY_PREFIX"], id(get_redis()), name)
    client = get_redis()
    key = rkey("sandbox", "pay", name)
    found = _cache.get(cache_key)
    if found is not None:
        # Put back if the store was emptied (tests flush their prefix after each test), so that
        # another process started later shares this process's keys.
        client.set(key, json.dumps(found), nx=True)
        return found
    raw = client.get(key)
    if raw is None:
        client.set(key, json.dumps(make()), nx=True)
        raw = client.get(key)
    value = json.loads(raw)
    _cache[cache_key] = value
    return value


def sandbox_merchant() -> dict:
    """The sandbox merchant: mchid, apiv3_key (32 characters), cert_serial_no, private_key."""
    secret = _shared("merchant", lambda: {"private_key": _key_pem()})
    return {
        "mchid": "19" + str(int(_derived("mchid", 8), 16))[:8],
        "apiv3_key": _derived("apiv3", 32, alphabet="hex"),
        "cert_serial_no": _derived("merchant-serial", 40),
        "private_key": secret["private_key"],
    }


def sandbox_platform() -> dict:
    """The sandbox platform: private_key, certificate (PEM) and its serial (upper hex)."""

    def make() -> dict:
        key = _key_pem()
        serial = int(hashlib.sha256(key.encode()).hexdigest()[:32], 16)
        return {"private_key": key, "certificate": _certificate_pem(key, serial)}

    value = _shared("platform", make)
    cert = x509.load_pem_x509_certificate(value["certificate"].encode())
    return {**value, "serial": format(cert.serial_number, "X")}


def merchant_public_key(private_pem: str):
    return serialization.load_pem_private_key(private_pem.encode(), password=None).public_key()
