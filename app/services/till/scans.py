"""Scanning a member code at the till, and the scan that then authorises till actions."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member, Scan, Staff
from app.services import membership
from app.services.ledger import points_program
from app.services.mall.pickups import awaiting_pickup
from app.services.members import member_code, member_summary
from app.services.staff import require_store
from app.services.till.points_at_till import rule_of

SCAN_VALID = timedelta(minutes=10)


class TillMember(NamedTuple):
    """What the till shows about a member: the member, their tier, the coupons usable now, and
    what they have to collect (mall goods, physical lottery prizes)."""

    member: Member
    tier: dict
    coupons: list
    pickups: list
    paid_membership: dict | None = None  # services.membership.brief: plan, ends_on, multiplier


class ScannedMember(NamedTuple):
    """A scan, its member, and the points program's till rule (None: the till takes no
    points), so the till offers points by the rule in force at the scan."""

    scan: Scan
    member: TillMember
    redeem: dict | None = None


def scan_member_code(
    session: Session, staff: Staff, code: str, now: datetime | None = None
) -> ScannedMember:
    """Accept a member code once: 404 garbage, 410 stale, 409 already scanned (by anyone)."""
    now = now or clock.now()
    scan = accept_member_code(session, staff, code, now)
    session.commit()
    member_code.code_used(scan.member_id, scan.code_step)
    member = till_member(session, session.get(Member, scan.member_id), now)
    return ScannedMember(scan, member, rule_of(points_program.config(session)))


def accept_member_code(session: Session, staff: Staff, code: str, now: datetime) -> Scan:
    """The scan of a member code by this staff member (or POS key), added to the caller's
    transaction (a savepoint holds it): 404 garbage or a closed account, 410 stale, 409 already
    scanned. Committing is the caller's; so is member_code.code_used after it."""
    store_id = require_store(staff)
    member_id, step = member_code.resolve_code(code, now)
    member = session.get(Member, member_id)
    if member is None or member.closed_at is not None:
        raise AppError("member_code.unknown")
    scan = new_scan(staff, store_id, member_id, now, member_code=code, code_step=step)
    try:
        with session.begin_nested():  # the unique (member_code, code_step) picks one winner
            session.add(scan)
    except IntegrityError as exc:
        raise AppError("member_code.used") from exc
    return scan


def new_scan(
    staff: Staff,
    store_id: int,
    member_id: int,
    now: datetime,
    member_code: str | None = None,
    code_step: int | None = None,
) -> Scan:
    """A scan of this member by this staff member, valid SCAN_VALID: by their member code, or
    by phone (services.till.phone_lookup) when no code is given."""
    return Scan(
        id=secrets.token_hex(16),
        via="code" if member_code is not None else "phone",
        member_code=member_code,
        code_step=code_step,
        member_id=member_id,
        staff_id=staff.id,
        store_id=store_id,
        expires_at=now + SCAN_VALID,
        created_at=now,
    )


def till_member(session: Session, member: Member, now: datetime) -> TillMember:
    """What the till shows about a scanned member, with the coupons usable now and what is
    waiting for them at the counter."""
    return TillMember(
        member,
        member_summary.tier(session, member),
        member_summary.usable_coupons(session, member, now),
        awaiting_pickup(session, member.id),
        membership.brief(session, member.id, clock.business_date(now)),
    )


def resolve_scan(session: Session, scan_id: str, staff: Staff, now: datetime | None = None) -> Scan:
    """The scan behind a till action: only its own staff member's, and only for 10 minutes."""
    scan = session.get(Scan, scan_id) if isinstance(scan_id, str) and len(scan_id) <= 32 else None
    if scan is None or scan.staff_id != staff.id:
        raise AppError("scan.not_found")
    if (now or clock.now()) > scan.expires_at:
        raise AppError("scan.expired")
    return scan
