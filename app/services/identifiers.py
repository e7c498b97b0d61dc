"""Identifiers: member numbers, referral and staff codes (unguessable, telling nothing about
sign-up order), coupon codes share their Crockford alphabet; phone masking."""

from __future__ import annotations

import re
import secrets

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def new_member_no() -> str:
    """12 digits: 11 random (first not 0) + a Luhn check digit, so typos are caught at the till."""
    body = str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(10))
    return body + luhn_digit(body)


def new_referral_code() -> str:
    """8 characters of Crockford base32 (no I, L, O, U): easy to read aloud and type."""
    return "".join(secrets.choice(CROCKFORD) for _ in range(8))


STAFF_CODE_LENGTH = 6  # 32^6: about a billion codes, 8 characters with the scene's "s="
# Crockford's reading rules: what a person may type for what is printed.
_CROCKFORD_READ = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_staff_code() -> str:
    """6 characters of Crockford base32: what a staff member's invite codes carry."""
    return "".join(secrets.choice(CROCKFORD) for _ in range(STAFF_CODE_LENGTH))


def read_crockford(code: str) -> str:
    """A typed or scanned code as it is stored: upper case, I and L read as 1, O as 0."""
    return code.strip().upper().translate(_CROCKFORD_READ)


def normalise_phone(value: str) -> str:
    """A phone as members' phones are kept: spaces and dashes dropped, a mainland number as its
    11 digits (+86 dropped), as WeChat's phone binding gives it."""
    compact = re.sub(r"[\s-]", "", value)
    if compact.startswith("+86") and len(compact) == 14:
        return compact[3:]
    return compact


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "****" + phone[-4:]
