"""The POS: a store's own system calling the service directly (server to server, /pos/v1).

Nothing here is a second till: a POS key acts through its till identity (keys.py), and the
lookup, the purchase and the refund are the staff till's services (till.scans, till.record_purchase,
till.refund_purchase, coupon_redemptions.redeem) with the key's store as the store. What is the
POS's own: naming the member in the purchase itself (a member code, a member number or a phone)
and using the order's coupons in the same request.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock, encryption
from app.errors import AppError
from app.models import Member, Scan, Staff
from app.services import till
from app.services.coupons import coupon_redemptions
from app.services.identifiers import normalise_phone
from app.services.members import member_code as member_codes
from app.services.staff import require_store
from app.services.till import purchase_lines, scans
from app.services.till.scans import TillMember


class LookedUp(NamedTuple):
    """A member the POS looked up, and the scan when it was by member code (its id serves the
    purchase for 10 minutes, as a clerk's scan does)."""

    member: TillMember
    scan: Scan | None


def _named_member(session: Session, member_no: str | None, phone: str | None) -> Member:
    query = select(Member).where(Member.closed_at.is_(None))
    if member_no:
        query = query.where(Member.member_no == member_no)
    else:
        query = query.where(Member.phone_hash == encryption.phone_hash(normalise_phone(phone)))
    member = session.execute(query).scalar_one_or_none()
    if member is None:
        raise AppError("member.not_found")
    return member


def lookup_member(
    session: Session,
    pos_till: Staff,
    *,
    member_code: str | None = None,
    member_no: str | None = None,
    phone: str | None = None,
    now: datetime | None = None,
) -> LookedUp:
    """The member with their points, tier and usable coupons. A member code is used up as by a
    clerk's scan (410 member_code.expired, 409 member_code.used, 404 member_code.unknown); a
    member number or phone that names no open account is 404 member.not_found. Any member of
    the chain may buy at any store: the lookup is not limited to the key's store's members."""
    now = now or clock.now()
    if member_code:
        scanned = scans.scan_member_code(session, pos_till, member_code.strip(), now)
        return LookedUp(scanned.member, scanned.scan)
    member = _named_member(session, member_no, phone)
    return LookedUp(scans.till_member(session, member, now), None)


def _buyer(session, pos_till, ids: dict, dry_run: bool, now, existing) -> till.Buyer | dict:
    """The buyer the request names. A member code is used up here, in the purchase's
    transaction (a dry run only reads it); when another request used it a moment ago for this
    very order (a retry racing the first), the answer is that order's (`existing()`) instead."""
    if ids.get("scan_id"):
        return till.Buyer(scan_id=ids["scan_id"])
    code = (ids.get("member_code") or "").strip()
    if not code:
        return till.Buyer(
            member_id=_named_member(session, ids.get("member_no"), ids.get("phone")).id
        )
    if dry_run:
        member_id, _ = member_codes.resolve_code(code, now)
        return till.Buyer(member_id=member_id)
    try:
        scan = scans.accept_member_code(session, pos_till, code, now)
    except AppError as refusal:
        if refusal.code == "member_code.used":
            answer = existing()
            if answer is not None:
                return answer
        raise
    member_codes.code_used(scan.member_id, scan.code_step)
    return till.Buyer(scan_id=scan.id)


def record_pos_purchase(
    session: Session,
    pos_till: Staff,
    *,
    order_no: str,
    amount_fen: int,
    ids: dict,
    paid_at: datetime | None = None,
    lines: list[dict] | None = None,
    points_to_redeem: int = 0,
    coupon_codes: list[str] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> dict:
    """Record the POS's order for the member it names (`ids`: one of member_code, member_no,
    phone, or the scan_id of a lookup): its coupons are used on the order first, then the
    points to redeem, then points are earned on what was paid, all in one transaction, as at
    the staff till. The same order number again with the same request is the first answer again
    (also when the two arrive at once); another request under it is 409
    purchase.duplicate_order. The answer adds `coupons_redeemed`."""
    now = now or clock.now()
    store_id = require_store(pos_till)
    purchase_lines.check_lines(lines, amount_fen)
    coupon_codes = [code.strip().upper() for code in coupon_codes or ()]
    identity = next((name, ids[name]) for name in _IDS if ids.get(name))
    print_extra = ("pos", *identity, *coupon_codes)
    order_print = till.order_fingerprint(
        order_no, amount_fen, paid_at, points_to_redeem, lines, *print_extra
    )

    def existing() -> dict | None:
        answer = till.answer_existing(session, store_id, order_no, order_print, "pos")
        return _with_coupons(session, store_id, answer) if answer is not None else None

    if not dry_run:
        answer = existing()
        if answer is not None:
            return answer
    buyer = _buyer(session, pos_till, ids, dry_run, now, existing)
    if isinstance(buyer, dict):
        return buyer
    previews = []
    for code in coupon_codes:
        used = coupon_redemptions.redeem(
            session,
            pos_till,
            order_no=order_no,
            order_amount_fen=amount_fen,
            coupon_code=code,
            dry_run=dry_run,
            now=now,
        )
        previews.append({"code": code, "discount_fen": used.redemption.discount_fen})
    answer = till.record_purchase(
        session,
        pos_till,
        buyer,
        order_no,
        amount_fen,
        paid_at,
        now,
        points_to_redeem=points_to_redeem,
        dry_run=dry_run,
        lines=lines,
        source="pos",
        preview_coupon_fen=sum(p["discount_fen"] for p in previews) if dry_run else None,
        print_extra=print_extra,
    )
    if dry_run:
        return answer | {"coupons_redeemed": previews}
    return _with_coupons(session, store_id, answer)


_IDS = ("scan_id", "member_code", "member_no", "phone")


def _with_coupons(session: Session, store_id: int, answer: dict) -> dict:
    coupons = coupon_redemptions.applied_on_order(session, store_id, answer["order_no"])
    return answer | {"coupons_redeemed": coupons}


def refund_pos_purchase(
    session: Session,
    pos_till: Staff,
    order_no: str,
    refund_no: str,
    amount_fen: int,
    lines: list[dict] | None = None,
) -> dict:
    """The staff till's refund, at the key's store: another store's order is 404
    purchase.not_found; the same refund number again is the first answer again."""
    return till.refund_purchase(session, pos_till, order_no, refund_no, amount_fen, lines=lines)
