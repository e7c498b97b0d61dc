"""Finding the shopper at the till by phone number, when their phone is dead and shows no code.

Two steps, as a clerk and the shopper do it at the counter: the clerk types the number the
shopper tells them and the till shows it masked (138****5678) with nothing else about the
member; the shopper then confirms the last four digits (typed on the till), and only then is the
member at the till, as after a scan of their code: a scan (via 'phone') for this staff member,
10 minutes, with points, coupons and what they have to collect.

What stops a clerk looking people up without them: nothing about the member is shown before the
confirmation, a clerk may start RATE lookups (a dead phone is rare), a lookup takes MAX_WRONG
wrong confirmations and then is gone, it is this staff member's for LOOKUP_VALID only, and every
step (started, found or not; a wrong confirmation; confirmed) is in the audit trail with the
staff member, the store and the member. The pending lookup lives in Redis: no member id or
phone in it that the clerk did not already type, and the last four as a keyed hash.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock, encryption
from app.errors import AppError
from app.extensions import get_redis, rkey
from app.models import Member, Staff
from app.services.identifiers import mask_phone, normalise_phone
from app.services.ledger import points_program
from app.services.staff import audit, require_store
from app.services.till.points_at_till import rule_of
from app.services.till.scans import ScannedMember, new_scan, till_member

RATE = "10/hour"  # lookups a staff member may start (app.staff.scans)
LOOKUP_VALID = timedelta(minutes=5)
MAX_WRONG = 3
_SECONDS = int(LOOKUP_VALID.total_seconds())
_LOOKUP_ID = re.compile(r"^[0-9a-f]{32}$")


class PendingLookup(NamedTuple):
    """A lookup waiting for the shopper's last four digits."""

    lookup_id: str
    phone_masked: str
    expires_at: datetime
    attempts_left: int = MAX_WRONG


def _last_four_digest(lookup_id: str, digits: str) -> str:
    # Keyed and salted by the lookup: the Redis value alone does not give the digits away.
    return encryption.phone_hash(f"last4:{lookup_id}:{digits}")


def _key(lookup_id: str, *more: str) -> str:
    return rkey("phone_lookup", lookup_id, *more)


def start_lookup(
    session: Session, staff: Staff, phone: str, now: datetime | None = None
) -> PendingLookup:
    """The clerk typed the shopper's phone number: the number masked, for the shopper to
    confirm with its last four digits; 404 member.not_found when no open account has it.
    Audited, found or not (the caller rate-limits)."""
    now = now or clock.now()
    require_store(staff)
    number = normalise_phone(phone)
    member_id = session.scalar(
        select(Member.id).where(
            Member.phone_hash == encryption.phone_hash(number), Member.closed_at.is_(None)
        )
    )
    masked = mask_phone(number)
    audit.record(
        session,
        staff,
        "member.phone_lookup",
        "member",
        member_id if member_id is not None else "",
        {"phone_masked": masked, "found": member_id is not None},
    )
    session.commit()
    if member_id is None:
        raise AppError("member.not_found")
    lookup_id = secrets.token_hex(16)
    pending = {
        "staff_id": staff.id,
        "member_id": member_id,
        "last_four": _last_four_digest(lookup_id, number[-4:]),
        "phone_masked": masked,
    }
    get_redis().set(_key(lookup_id), json.dumps(pending), ex=_SECONDS)
    return PendingLookup(lookup_id, masked, now + LOOKUP_VALID)


def confirm_lookup(
    session: Session, staff: Staff, lookup_id: str, last_four: str, now: datetime | None = None
) -> ScannedMember:
    """The shopper confirmed the last four digits: the member is at the till as after a scan
    (a scan via phone, this staff member's for 10 minutes). 404 phone_lookup.unknown for a
    lookup that is not this staff member's, expired or already used; 422
    phone_lookup.mismatch for wrong digits (after MAX_WRONG the lookup is gone). A lookup
    confirms once: of two confirmations at once, one gets the scan."""
    now = now or clock.now()
    store_id = require_store(staff)
    client = get_redis()
    raw = client.get(_key(lookup_id)) if _LOOKUP_ID.match(lookup_id or "") else None
    pending = json.loads(raw) if raw else None
    if pending is None or pending["staff_id"] != staff.id:
        raise AppError("phone_lookup.unknown")
    member_id = pending["member_id"]
    if not hmac.compare_digest(_last_four_digest(lookup_id, last_four), pending["last_four"]):
        wrong_key = _key(lookup_id, "wrong")
        wrong = client.incr(wrong_key)
        client.expire(wrong_key, _SECONDS)
        left = max(0, MAX_WRONG - wrong)
        if left == 0:
            client.delete(_key(lookup_id), wrong_key)
        audit.record(
            session, staff, "member.phone_lookup_mismatch", "member", member_id, {"left": left}
        )
        session.commit()
        raise AppError(
            "phone_lookup.mismatch",
            message="The last four digits do not match; ask the shopper again."
            if left
            else "The last four digits do not match; start the lookup again.",
            details={"last_four": ["Does not match."], "attempts_left": left},
        )
    if not client.delete(_key(lookup_id)):
        raise AppError("phone_lookup.unknown")  # another confirmation took it a moment ago
    client.delete(_key(lookup_id, "wrong"))
    member = session.get(Member, member_id)
    if member is None or member.closed_at is not None:
        raise AppError("member.not_found")
    scan = new_scan(staff, store_id, member_id, now)
    session.add(scan)
    session.flush()
    audit.record(
        session,
        staff,
        "member.phone_lookup_confirmed",
        "member",
        member_id,
        {"scan_id": scan.id, "phone_masked": pending["phone_masked"]},
    )
    session.commit()
    redeem = rule_of(points_program.config(session))
    return ScannedMember(scan, till_member(session, member, now), redeem)
