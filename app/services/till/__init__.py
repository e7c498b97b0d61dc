"""The till: record a purchase (points are spent and earned), preview it (till.preview), refund it
(till.refunds); a manager's points correction is till.adjustments."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Purchase, Staff, Store
from app.models.base import UTCDateTime
from app.services import ledger
from app.services.benefits import promotions
from app.services.ledger import points_program
from app.services.members import tiers
from app.services.staff import require_store
from app.services.till import answers, points_at_till, purchase_lines, till_hooks
from app.services.till.adjustments import adjust_points
from app.services.till.answers import answer_existing
from app.services.till.preview import preview
from app.services.till.refunds import fingerprint, refund_purchase
from app.services.till.scans import resolve_scan

# The earliest business day a purchase at a till can be dated (business day numbers count from
# it). History from before it comes in through the order import (order_import.EARLIEST_PAID_ON).
EARLIEST_PAID_ON = date(2000, 1, 1)


# A till purchase's first statement: the scan (this clerk's, not expired) with its member, and the
# purchase recorded for that member with its points. The points are purchase_points computed here
# (points_program.earn_by_tier: the same integer rule, its rounding as an addend) on what is
# payable: the amount less the coupons used on this order number at this store (read here, or
# given when the caller read them already) and the points' discount; by the member's tier code as
# the row is now (or their paid membership's multiplier on the day paid, when higher: the rule
# in services.membership), none if they joined on a later business day than the payment. Nothing is
# inserted when the scan (or the member the POS named) does not serve or the order number is
# taken (ON CONFLICT: the database picks one of two tills racing for a number), and the staff
# write's audit row that audit.record would add (staff, their store, the order, its points).
# `interested`: a program joins in (till_hooks.INTEREST_SQL).
_RECORD = """
    WITH scan AS MATERIALIZED (
        SELECT m.id AS member_id, m.tier_code,
               {interest} AS interested,
               CASE WHEN m.joined_at >= :paid_day_end THEN 0
                    ELSE GREATEST(
                        COALESCE(CAST(CAST(:multipliers AS jsonb) ->> m.tier_code AS bigint),
                                 CAST(:default_multiplier AS bigint)),
                        (SELECT ms.multiplier_percent FROM memberships ms
                         WHERE ms.member_id = m.id AND ms.starts_on <= CAST(:paid_on AS date)
                           AND ms.ends_on >= CAST(:paid_on AS date)))
               END AS multiplier
        {buyer}
    ), priced AS MATERIALIZED (
        SELECT scan.member_id, scan.multiplier, coupons.fen AS coupon_fen,
               CAST(:amount_fen AS bigint) - coupons.fen - CAST(:discount_fen AS bigint)
                   AS payable
        FROM scan, (
            SELECT LEAST(CAST(:amount_fen AS bigint), COALESCE(CAST(:coupon_fen AS bigint), (
                SELECT COALESCE(sum(discount_fen), 0) FROM coupon_redemptions
                WHERE store_id = :store_id AND order_no = :order_no AND status = 'applied'
            ))) AS fen
        ) coupons
    ), inserted AS (
        INSERT INTO purchases (store_id, order_no, member_id, staff_id, scan_id, source,
                               amount_fen, refunded_fen, items, points_awarded, points_reversed,
                               coupon_discount_fen, points_redeemed, discount_fen,
                               points_returned, fingerprint, paid_at, created_at)
        SELECT :store_id, :order_no, member_id, :staff_id, :scan_id, :source, :amount_fen, 0,
               :items,
               (GREATEST(payable, 0) * CAST(:points_per_yuan AS bigint) * multiplier
                + CAST(:round_addend AS bigint)) / 10000,
               0, coupon_fen, :points_redeemed, :discount_fen, 0, :fingerprint, :paid_at, :now
        FROM priced
        ON CONFLICT (store_id, order_no) DO NOTHING
        RETURNING id, points_awarded, coupon_discount_fen
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
    SELECT scan.member_id, scan.interested, scan.tier_code, priced.payable, inserted.id,
           inserted.points_awarded, inserted.coupon_discount_fen
    FROM (SELECT 1) one LEFT JOIN scan ON true LEFT JOIN priced ON true
         LEFT JOIN inserted ON true
    """


def _record_statement(buyer: str):
    return text(
        _RECORD.format(interest=till_hooks.INTEREST_SQL.format(member="m.id"), buyer=buyer)
    ).bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("paid_at", type_=UTCDateTime()),
        bindparam("paid_day_end", type_=UTCDateTime()),
    )


# The buyer is the member of this clerk's scan (valid 10 minutes), or (the POS) a member named
# by id, with the scan of their member code when they showed one.
_RECORD_BY_SCAN = _record_statement(
    """FROM scans s JOIN members m ON m.id = s.member_id
        WHERE s.id = :scan_id AND s.staff_id = :staff_id AND s.expires_at >= :now"""
)
_RECORD_FOR_MEMBER = _record_statement(
    "FROM members m WHERE m.id = :member_id AND m.closed_at IS NULL"
)


class Buyer(NamedTuple):
    """Who buys: the member of a scan (a clerk's, or the POS's of a member code), or a member
    the POS named by member number or phone (`member_id`, no scan)."""

    scan_id: str | None = None
    member_id: int | None = None


def record_purchase(
    session: Session,
    staff: Staff,
    scan_id: str | Buyer,
    order_no: str,
    amount_fen: int,
    paid_at: datetime | None = None,
    now: datetime | None = None,
    points_to_redeem: int = 0,
    dry_run: bool = False,
    lines: list[dict] | None = None,
    *,
    source: str = "till",
    preview_coupon_fen: int | None = None,
    print_extra: tuple = (),
) -> dict:
    """Record a paid order for the scanned member and award points by the program and tier on
    what was paid: the amount less the coupons used on this order (redeemed before it, same order
    number) and the points redeemed (points_at_till's rule). One transaction: the purchase, its
    lines, the points spent, the points earned. `dry_run` answers the same without recording
    anything. The lines, when given, add up to the amount (422 purchase.lines_mismatch).

    An order number is unique per store: the same order again is a replay (same answer, no new
    points); another order under that number is 409 purchase.duplicate_order.

    The POS names its buyer with a Buyer (a member by id, no scan) and records as `source`
    'pos', `print_extra` joining the order's fingerprint; its dry run counts
    `preview_coupon_fen` as the coupons' discount (previewed, not used).
    """
    buyer = scan_id if isinstance(scan_id, Buyer) else Buyer(scan_id=scan_id)
    now = now or clock.now()
    store_id = require_store(staff)
    purchase_lines.check_lines(lines, amount_fen)
    if paid_at is not None:
        _check_paid_at(session, store_id, paid_at, now)
    cfg = points_program.config(session)
    if dry_run:
        member_id = buyer.member_id
        if member_id is None:
            member_id = resolve_scan(session, buyer.scan_id, staff, now).member_id
        return preview(
            session,
            cfg,
            store_id,
            member_id,
            order_no,
            amount_fen,
            points_to_redeem,
            paid_at or now,
            preview_coupon_fen,
            lines,
        )
    order_print = order_fingerprint(
        order_no, amount_fen, paid_at, points_to_redeem, lines, *print_extra
    )
    paid_at = paid_at or now
    coupon_fen, redemption = None, points_at_till.NONE
    if points_to_redeem:
        coupon_fen = points_at_till.coupon_discount_fen(session, store_id, order_no)
        redemption = points_at_till.redemption_for(
            points_at_till.rule_of(cfg), max(amount_fen - coupon_fen, 0), points_to_redeem
        )
    row = session.execute(
        _RECORD_BY_SCAN if buyer.member_id is None else _RECORD_FOR_MEMBER,
        {
            "scan_id": buyer.scan_id,
            "member_id": buyer.member_id,
            "staff_id": staff.id,
            "staff_store_id": staff.store_id,
            "store_id": store_id,
            "order_no": order_no,
            "source": source,
            "amount_fen": amount_fen,
            "items": sum(line["quantity"] for line in lines or ()),
            "coupon_fen": coupon_fen,
            "points_redeemed": redemption.points,
            "discount_fen": redemption.discount_fen,
            "fingerprint": order_print,
            "paid_at": paid_at,
            "now": now,
            # Paid before they were a member: the sale is recorded (the store's figures, the
            # member's history) but points are a member's benefit. The day they joined counts
            # in full: "join now and this receipt earns" is what the counter promises.
            "paid_day_end": clock.business_day_end(clock.business_date(paid_at)),
            "paid_on": clock.business_date(paid_at),
            **_earn_params(cfg),
        },
    ).one()
    if row.id is None:
        return _not_recorded(session, staff, store_id, buyer, order_no, order_print, source, now)
    member_id, purchase_id, awarded = row.member_id, row.id, row.points_awarded
    if lines:
        purchase_lines.store_lines(session, purchase_id, lines)
    # Promotions (会员日): their extra points join the purchase's points_awarded before the
    # one ledger entry, so replays, the statement and refunds see one figure.
    promoted, extra = answers.promoted_points(
        session, cfg, store_id, row.tier_code, paid_at, amount_fen, row.payable, awarded, lines
    )
    if promoted:
        session.execute(
            update(Purchase)
            .where(Purchase.id == purchase_id)
            .values(points_awarded=Purchase.points_awarded + extra)
        )
        promotions.record_bonus(session, purchase_id, promoted)
        awarded += extra
    balance = None
    if redemption.points:
        # Spent before earning: this order's points cannot pay for itself. Short of points:
        # 409 points.insufficient, and the purchase above goes with the refusal.
        balance = ledger.spend(
            session,
            member_id,
            redemption.points,
            reason="till_redeem",
            ref=f"till-redeem:{purchase_id}",
            now=now,
            staff_id=staff.id,
            store_id=store_id,
            note=order_no,
        ).balance_after
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
        if tiers.upgrade_if_reached(session, member_id, now) is not None:
            balance = ledger.balance_of(session, member_id)  # with the upgrade gift's points
    if row.interested:
        till_hooks.purchase_recorded(session, session.get(Purchase, purchase_id))
    if balance is None:
        balance = ledger.balance_of(session, member_id)
    return answers.purchase_answer(
        purchase_id,
        order_no,
        member_id,
        amount_fen,
        row.coupon_discount_fen,
        redemption.points,
        redemption.discount_fen,
        awarded,
        balance,
        promotions.as_answer(promoted),
    )


def order_fingerprint(order_no, amount_fen, paid_at, points_to_redeem, lines, *extra) -> str:
    """What tells a replay of an order from another order under the same number."""
    parts = (points_to_redeem,) if points_to_redeem else ()  # fingerprints before issue 16 hold
    if lines:
        parts += (purchase_lines.lines_print(lines),)  # and those without lines
    return fingerprint(order_no, amount_fen, paid_at.isoformat() if paid_at else "", *parts, *extra)


def _earn_params(cfg: dict) -> dict:
    rule = points_program.earn_by_tier(cfg)
    return {
        "points_per_yuan": rule["points_per_yuan"],
        "round_addend": rule["round_addend"],
        "multipliers": json.dumps(rule["multipliers"]),
        "default_multiplier": rule["default_multiplier"],
    }


def _not_recorded(session, staff, store_id, buyer, order_no, order_print, source, now) -> dict:
    """Nothing was inserted: the order number is taken (a replay, or 409
    purchase.duplicate_order), else the scan does not serve (404 scan.not_found, 410
    scan.expired) or the named member is gone (404 member.not_found). An existing order is
    answered whatever the scan, as the first time."""
    answer = answer_existing(session, store_id, order_no, order_print, source)
    if answer is not None:
        return answer
    if buyer.member_id is not None:
        raise AppError("member.not_found")
    resolve_scan(session, buyer.scan_id, staff, now)  # raises: the scan is why nothing was written
    raise AssertionError("a serving scan and a free order number record the purchase")


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


__all__ = [
    "Buyer",
    "adjust_points",
    "answer_existing",
    "order_fingerprint",
    "record_purchase",
    "refund_purchase",
]
