"""The till: record a purchase (points are earned), refund it (points come back), adjust."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member, Purchase, Refund, Staff, Store
from app.models.base import UTCDateTime
from app.models.points import PointEntry
from app.services import ledger
from app.services.ledger import points_program
from app.services.members import tiers
from app.services.staff import audit, require_store, store_scope
from app.services.till import till_hooks
from app.services.till.scans import resolve_scan

# The earliest business day a purchase at a till can be dated (business day numbers count from
# it). History from before it comes in through the order import (order_import.EARLIEST_PAID_ON).
EARLIEST_PAID_ON = date(2000, 1, 1)


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


def _answer(session: Session, purchase: Purchase) -> dict:
    entry = session.execute(
        select(PointEntry).where(PointEntry.ref == f"purchase:{purchase.id}")
    ).scalar_one_or_none()
    return {
        "purchase_id": purchase.id,
        "order_no": purchase.order_no,
        "member_id": purchase.member_id,
        "amount_fen": purchase.amount_fen,
        "points_awarded": purchase.points_awarded,
        "balance": entry.balance_after
        if entry is not None
        else ledger.balance_of(session, purchase.member_id),
    }


# A till purchase's first statement: the scan (this clerk's, not expired) with its member, and the
# purchase recorded for that member with its points -- the tier's points by the member's tier
# code as the row is now, none if they joined on a later business day than the payment. Nothing
# is inserted when the scan does not serve or the order number is taken (ON CONFLICT: the
# database picks one of two tills racing for a number), and the staff write's audit row that
# audit.record would add (staff, their store, the order, its points). `interested`: a program
# joins in (till_hooks.INTEREST_SQL).
_RECORD = text(
    f"""
    WITH scan AS MATERIALIZED (
        SELECT s.member_id, m.tier_code, {till_hooks.INTEREST_SQL.format(member="s.member_id")}
               AS interested,
               CASE WHEN m.joined_at >= :paid_day_end THEN 0
                    ELSE COALESCE(CAST(CAST(:points_by_tier AS jsonb) ->> m.tier_code AS bigint),
                                  CAST(:points_default AS bigint))
               END AS points
        FROM scans s JOIN members m ON m.id = s.member_id
        WHERE s.id = :scan_id AND s.staff_id = :staff_id AND s.expires_at >= :now
    ), inserted AS (
        INSERT INTO purchases (store_id, order_no, member_id, staff_id, scan_id, source,
                               amount_fen, refunded_fen, items, points_awarded, points_reversed,
                               fingerprint, paid_at, created_at)
        SELECT :store_id, :order_no, member_id, :staff_id, :scan_id, 'till', :amount_fen, 0, 0,
               points, 0, :fingerprint, :paid_at, :now
        FROM scan
        ON CONFLICT (store_id, order_no) DO NOTHING
        RETURNING id, points_awarded
    ), audited AS (
        INSERT INTO audit_entries (staff_id, store_id, action, target_type, target_id, details,
                                   created_at)
        SELECT :staff_id, :staff_store_id, 'purchase.record', 'purchase', CAST(id AS varchar),
               json_build_object('order_no', CAST(:order_no AS text),
                                 'amount_fen', CAST(:amount_fen AS bigint),
                                 'points', points_awarded),
               :now
        FROM inserted
    )
    SELECT scan.member_id, scan.interested, inserted.id, inserted.points_awarded
    FROM (SELECT 1) one LEFT JOIN scan ON true LEFT JOIN inserted ON true
    """
).bindparams(
    bindparam("now", type_=UTCDateTime()),
    bindparam("paid_at", type_=UTCDateTime()),
    bindparam("paid_day_end", type_=UTCDateTime()),
)


def record_purchase(
    session: Session,
    staff: Staff,
    scan_id: str,
    order_no: str,
    amount_fen: int,
    paid_at: datetime | None = None,
    now: datetime | None = None,
) -> dict:
    """Record a paid order for the scanned member and award points by the program and tier.

    An order number is unique per store: the same order again is a replay (same answer, no new
    points); another order under that number is 409 purchase.duplicate_order.
    """
    now = now or clock.now()
    store_id = require_store(staff)
    if paid_at is not None:
        _check_paid_at(session, store_id, paid_at, now)
    fingerprint = _fingerprint(order_no, amount_fen, paid_at.isoformat() if paid_at else "")
    paid_at = paid_at or now
    cfg = points_program.config(session)
    by_tier = {
        t["code"]: points_program.purchase_points(cfg, amount_fen, t["code"])
        for t in points_program.tiers(cfg)
    }
    row = session.execute(
        _RECORD,
        {
            "scan_id": scan_id,
            "staff_id": staff.id,
            "staff_store_id": staff.store_id,
            "store_id": store_id,
            "order_no": order_no,
            "amount_fen": amount_fen,
            "fingerprint": fingerprint,
            "paid_at": paid_at,
            "now": now,
            # Paid before they were a member: the sale is recorded (the store's figures, the
            # member's history) but points are a member's benefit. The day they joined counts
            # in full: "join now and this receipt earns" is what the counter promises.
            "paid_day_end": clock.business_day_end(clock.business_date(paid_at)),
            "points_by_tier": json.dumps(by_tier),
            # tier_for: an unknown tier code earns as the lowest tier.
            "points_default": points_program.purchase_points(cfg, amount_fen, ""),
        },
    ).one()
    if row.id is None:
        return _not_recorded(session, staff, store_id, scan_id, order_no, fingerprint, now)
    member_id, purchase_id, awarded = row.member_id, row.id, row.points_awarded
    balance = None
    if awarded > 0:
        balance = ledger.earn(
            session,
            member_id,
            awarded,
            reason="purchase",
            ref=f"purchase:{purchase_id}",
            now=now,
            staff_id=staff.id,
            store_id=store_id,
        ).balance_after
        tiers.upgrade_if_reached(session, member_id, now)
    if row.interested:
        till_hooks.purchase_recorded(session, session.get(Purchase, purchase_id))
    return {
        "purchase_id": purchase_id,
        "order_no": order_no,
        "member_id": member_id,
        "amount_fen": amount_fen,
        "points_awarded": awarded,
        "balance": balance if balance is not None else ledger.balance_of(session, member_id),
    }


def _not_recorded(session, staff, store_id, scan_id, order_no, fingerprint, now) -> dict:
    """Nothing was inserted: the order number is taken (a replay, or 409
    purchase.duplicate_order), else the scan does not serve (404 scan.not_found, 410
    scan.expired). An existing order is answered whatever the scan, as the first time."""
    existing = _by_order(session, store_id, order_no)
    if existing is None:
        resolve_scan(session, scan_id, staff, now)  # raises: the scan is why nothing was written
        raise AssertionError("a serving scan and a free order number record the purchase")
    if existing.fingerprint != fingerprint or existing.source != "till":
        raise AppError(
            "purchase.duplicate_order",
            message="This order number was already recorded with different details.",
        )
    return _answer(session, existing)


def _check_paid_at(session: Session, store_id: int, paid_at: datetime, now: datetime) -> None:
    """A back-dated payment time is a till's clock or a clerk's typo unless it falls between the
    store's first business day (and 2000, where business day numbers start) and now (a minute of
    clock skew allowed): anything else is 422 and records nothing."""
    problem = None
    if paid_at > now + timedelta(minutes=1):
        problem = "Future."
    elif clock.business_date(paid_at) < EARLIEST_PAID_ON:
        problem = f"Before {EARLIEST_PAID_ON.isoformat()}."
    else:
        opened = session.execute(select(Store.created_at).where(Store.id == store_id)).scalar_one()
        if clock.business_date(paid_at) < clock.business_date(opened):
            problem = "Before the store existed."
    if problem is not None:
        raise AppError(
            "request.invalid",
            message=f"paid_at is not a time this store took a payment: {problem}",
            details={"paid_at": [problem]},
        )


def _by_order(session: Session, store_id: int, order_no: str, lock: bool = False):
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
) -> dict:
    """Refund part or all of a purchase; points are reversed in proportion, and refunding the
    whole amount reverses exactly what was awarded (even if the points were spent: the balance
    may go negative and later earnings repay it)."""
    now = now or clock.now()
    store_id = require_store(staff)
    purchase = _by_order(session, store_id, order_no, lock=True)
    if purchase is None:
        raise AppError("purchase.not_found")
    fingerprint = _fingerprint(order_no, refund_no, amount_fen)
    prior = session.execute(
        select(Refund).where(Refund.purchase_id == purchase.id, Refund.refund_no == refund_no)
    ).scalar_one_or_none()
    if prior is not None:
        if prior.fingerprint != fingerprint:
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
    # Proportional, rounded down, on the running total: the last refund reverses the remainder.
    target_reversed = purchase.points_awarded * refunded_total // purchase.amount_fen
    reverse_now = target_reversed - purchase.points_reversed
    refund = Refund(
        purchase_id=purchase.id,
        refund_no=refund_no,
        amount_fen=amount_fen,
        points_reversed=reverse_now,
        staff_id=staff.id,
        store_id=store_id,
        fingerprint=fingerprint,
        created_at=now,
    )
    session.add(refund)
    session.flush()
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
            now=now,
            reverses_entry_id=earned,
            staff_id=staff.id,
            store_id=store_id,
        )
    session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id)
        .values(refunded_fen=refunded_total, points_reversed=target_reversed)
    )
    session.refresh(purchase)
    till_hooks.purchase_refunded(session, purchase, refund)
    audit.record(
        session,
        staff,
        "purchase.refund",
        "purchase",
        purchase.id,
        {"refund_no": refund_no, "amount_fen": amount_fen, "points_reversed": reverse_now},
    )
    return _refund_answer(session, purchase, refund)


def _refund_answer(session: Session, purchase: Purchase, refund: Refund) -> dict:
    return {
        "refund_id": refund.id,
        "order_no": purchase.order_no,
        "refund_no": refund.refund_no,
        "amount_fen": refund.amount_fen,
        "points_reversed": refund.points_reversed,
        "refunded_fen": purchase.refunded_fen,
        "balance": ledger.balance_of(session, purchase.member_id),
    }


def adjust_points(
    session: Session, staff: Staff, member_id: int, delta: int, reason: str, now=None
) -> PointEntry:
    """A manager's correction, with a reason, audited. Taking points cannot go below zero."""
    now = now or clock.now()
    member = session.get(Member, member_id)
    scope = store_scope(staff)
    if member is None or (scope is not None and member.store_id != scope):
        raise AppError("member.not_found")
    ref = f"adjustment:{secrets.token_hex(12)}"
    common = {
        "reason": "adjustment",
        "ref": ref,
        "now": now,
        "staff_id": staff.id,
        "store_id": staff.store_id,
        "note": reason,
    }
    if delta > 0:
        entry = ledger.earn(session, member_id, delta, **common)
    else:
        entry = ledger.spend(session, member_id, -delta, **common)
    audit.record(
        session, staff, "points.adjust", "member", member_id, {"delta": delta, "reason": reason}
    )
    return entry
