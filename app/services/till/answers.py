"""What the till answers about a purchase: the answer of a purchase just recorded or previewed,
the first answer again for a replayed order number, and the promotion points it earns.

Shared by record_purchase, its dry run (till.preview) and the POS (services.pos).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import AppError
from app.models import Purchase
from app.models.points import PointEntry
from app.services import ledger
from app.services.benefits import promotions
from app.services.till.refunds import by_order


def recorded_answer(session: Session, purchase: Purchase) -> dict:
    entry = session.execute(
        select(PointEntry).where(PointEntry.ref == f"purchase:{purchase.id}")
    ).scalar_one_or_none()
    balance = (
        entry.balance_after if entry is not None else ledger.balance_of(session, purchase.member_id)
    )
    return purchase_answer(
        purchase.id,
        purchase.order_no,
        purchase.member_id,
        purchase.amount_fen,
        purchase.coupon_discount_fen,
        purchase.points_redeemed,
        purchase.discount_fen,
        purchase.points_awarded,
        balance,
        promotions.applied_to(session, purchase.id),
    )


def purchase_answer(
    purchase_id,
    order_no,
    member_id,
    amount_fen,
    coupon_fen,
    redeemed,
    discount_fen,
    awarded,
    balance,
    promoted=(),
) -> dict:
    return {
        "purchase_id": purchase_id,
        "order_no": order_no,
        "member_id": member_id,
        "amount_fen": amount_fen,
        "coupon_discount_fen": coupon_fen,
        "points_redeemed": redeemed,
        "discount_fen": discount_fen,
        "payable_fen": amount_fen - coupon_fen - discount_fen,
        "points_awarded": awarded,
        "balance": balance,
        "dry_run": purchase_id is None,
        "promotions": list(promoted),
    }


def promoted_points(session, cfg, store_id, tier_code, paid_at, amount_fen, payable, base, lines):
    """The promotion the purchase earns by ([] or one) and its extra points (0 without)."""
    promoted = promotions.promotion_bonus(
        session,
        cfg,
        store_id=store_id,
        tier_code=tier_code,
        paid_at=paid_at,
        amount_fen=amount_fen,
        payable_fen=payable,
        base_points=base,
        lines=lines,
    )
    return promoted, sum(points for _, points in promoted)


def answer_existing(session: Session, store_id: int, order_no: str, order_print: str, source):
    """The answer of an order already recorded under this number at this store, if any: the
    first answer again when the request is the same (fingerprint and source), else 409
    purchase.duplicate_order. None when the number is free."""
    existing = by_order(session, store_id, order_no)
    if existing is None:
        return None
    if existing.fingerprint != order_print or existing.source != source:
        raise AppError(
            "purchase.duplicate_order",
            message="This order number was already recorded with different details.",
        )
    return recorded_answer(session, existing)
