"""Refunds at the till, and the lookups of an order that the till shares.

A refund gives back its share of the points redeemed on the order and reverses its share of the
points earned (points_at_till.refund_shares: proportional on the running total). Two ledger
entries in the refund's one transaction, under one lock of the member's row, rather than one
entry of the net: the earned points' reversal is a `refund` entry (it counts against the
member's tier, points_program.TIER_REASONS) and the redeemed points come back as a
`refund_redeem` entry (which does not), and the member's statement shows both for what they are.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Purchase, Refund, Staff
from app.models.points import PointEntry
from app.services import ledger
from app.services.coupons import coupon_redemptions
from app.services.staff import audit, require_store
from app.services.till import points_at_till, purchase_lines, till_hooks


def fingerprint(*parts: object) -> str:
    """sha256 of a till request's parts: a replay has the same, another request under the same
    number another."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


def by_order(session: Session, store_id: int, order_no: str, lock: bool = False):
    query = select(Purchase).where(Purchase.store_id == store_id, Purchase.order_no == order_no)
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def refund_purchase(
    session: Session,
    staff: Staff,
    order_no: str,
    refund_no: str,
    amount_fen: int,
    now: datetime | None = None,
    lines: list[dict] | None = None,
) -> dict:
    """Refund part or all of a purchase (amount_fen is a share of the order's amount): its share
    of the redeemed points comes back and its share of the earned points is reversed, and
    refunding the whole amount gives back and reverses exactly what the order redeemed and
    earned (even if the earned points were spent: the balance may go negative, a debt that
    later earnings repay). `lines` refunds by line (purchase_lines.refund_lines)."""
    now = now or clock.now()
    store_id = require_store(staff)
    purchase_lines.check_lines(lines, amount_fen)
    purchase = by_order(session, store_id, order_no, lock=True)
    if purchase is None:
        raise AppError("purchase.not_found")
    extra = (purchase_lines.lines_print(lines),) if lines else ()  # earlier prints hold
    refund_print = fingerprint(order_no, refund_no, amount_fen, *extra)
    prior = session.execute(
        select(Refund).where(Refund.purchase_id == purchase.id, Refund.refund_no == refund_no)
    ).scalar_one_or_none()
    if prior is not None:
        if prior.fingerprint != refund_print:
            raise AppError(
                "refund.duplicate",
                message="This refund number was already used with another amount.",
            )
        return _refund_answer(session, purchase, prior)
    if purchase.refunded_fen + amount_fen > purchase.amount_fen:
        raise AppError(
            "refund.exceeds_purchase",
            message="The refunds would exceed what was paid.",
            details={"refundable_fen": purchase.amount_fen - purchase.refunded_fen},
        )
    refunded_total = purchase.refunded_fen + amount_fen
    return_now, reverse_now = points_at_till.refund_shares(purchase, refunded_total)
    refund = Refund(
        purchase_id=purchase.id,
        refund_no=refund_no,
        amount_fen=amount_fen,
        points_reversed=reverse_now,
        points_returned=return_now,
        staff_id=staff.id,
        store_id=store_id,
        fingerprint=refund_print,
        created_at=now,
    )
    session.add(refund)
    session.flush()
    if lines:
        purchase_lines.refund_lines(session, purchase, refund, lines, amount_fen)
    moved = {"now": now, "staff_id": staff.id, "store_id": store_id}
    if return_now > 0:
        # Given back first, so a member whose earned points are reversed is not in debt
        # meanwhile. They are points earned anew today: they expire by the program's policy.
        ledger.earn(
            session,
            purchase.member_id,
            return_now,
            reason="refund_redeem",
            ref=f"refund-redeem:{refund.id}",
            note=order_no,
            **moved,
        )
    if reverse_now > 0:
        earned = session.execute(
            select(PointEntry.id).where(PointEntry.ref == f"purchase:{purchase.id}")
        ).scalar_one_or_none()
        ledger.debit(
            session,
            purchase.member_id,
            reverse_now,
            reason="refund",
            ref=f"refund:{refund.id}",
            reverses_entry_id=earned,
            **moved,
        )
    session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id)
        .values(
            refunded_fen=refunded_total,
            points_reversed=Purchase.points_reversed + reverse_now,
            points_returned=Purchase.points_returned + return_now,
        )
    )
    session.refresh(purchase)
    till_hooks.purchase_refunded(session, purchase, refund)
    audit.record(
        session,
        staff,
        "purchase.refund",
        "purchase",
        purchase.id,
        {"refund_no": refund_no, "amount_fen": amount_fen, "points_reversed": reverse_now}
        | ({"points_returned": return_now} if return_now else {}),
    )
    return _refund_answer(session, purchase, refund)


def _refund_answer(session: Session, purchase: Purchase, refund: Refund) -> dict:
    return {
        "refund_id": refund.id,
        "order_no": purchase.order_no,
        "refund_no": refund.refund_no,
        "amount_fen": refund.amount_fen,
        "points_reversed": refund.points_reversed,
        "points_returned": refund.points_returned,
        "refunded_fen": purchase.refunded_fen,
        "member_id": purchase.member_id,
        "balance": ledger.balance_of(session, purchase.member_id),
        "coupons": coupon_redemptions.coupons_of_order(
            session, purchase.store_id, purchase.order_no
        ),
    }
