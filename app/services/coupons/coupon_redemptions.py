"""Using a coupon at the till, and giving it back when the order is refunded."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Purchase, Refund, Staff
from app.models.coupons import Coupon, CouponRedemption, CouponTemplate
from app.services.coupons import discount_for
from app.services.staff import audit, require_store, store_scope
from app.services.till.scans import resolve_scan


class RedemptionResult(NamedTuple):
    """A redemption (or the preview of one) and the template of the coupon it used."""

    redemption: CouponRedemption
    template: CouponTemplate
    dry_run: bool


def _find_coupon(session: Session, staff: Staff, coupon_code, scan_id, coupon_id, now) -> Coupon:
    """The coupon by its code, or by id for the member of this clerk's scan (404 otherwise)."""
    if coupon_code:
        coupon = session.execute(
            select(Coupon).where(Coupon.code == coupon_code.strip().upper())
        ).scalar_one_or_none()
    else:
        scan = resolve_scan(session, scan_id, staff, now)
        coupon = session.get(Coupon, coupon_id)
        if coupon is not None and coupon.member_id != scan.member_id:
            coupon = None
    if coupon is None:
        raise AppError("coupon.not_found")
    return coupon


def _refusal(coupon: Coupon, now: datetime) -> AppError | None:
    if coupon.status == "voided":  # its member closed the account: it is nobody's now
        return AppError("coupon.not_found")
    if coupon.status == "used":
        return AppError("coupon.used")
    if coupon.valid_until < now:
        return AppError(
            "coupon.expired",
            message="This coupon has expired.",
            details={
                "valid_until": coupon.valid_until.isoformat(),
                "valid_until_date": clock.business_date(coupon.valid_until).isoformat(),
            },
        )
    if coupon.valid_from > now:
        return AppError(
            "coupon.not_yet_valid",
            message="This coupon cannot be used yet.",
            details={"valid_from": coupon.valid_from.isoformat()},
        )
    return None


def redeem(
    session: Session,
    staff: Staff,
    *,
    order_no: str,
    order_amount_fen: int,
    coupon_code: str | None = None,
    scan_id: str | None = None,
    coupon_id: int | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> RedemptionResult:
    """Use a coupon on an order at this store: it must be unused and valid now, and the order
    must reach its threshold. `dry_run` answers the discount without using it. Two tills using
    one coupon at once: exactly one succeeds, the other gets 409 coupon.used."""
    now = now or clock.now()
    store_id = require_store(staff)
    coupon = _find_coupon(session, staff, coupon_code, scan_id, coupon_id, now)
    template = session.get(CouponTemplate, coupon.template_id)
    if coupon.status == "used":
        replay = _same_order(session, coupon, store_id, order_no)
        if replay is not None:  # a retried request for the order it was already used on
            return RedemptionResult(replay, template, dry_run=False)
    refusal = _refusal(coupon, now)
    if refusal is not None:
        raise refusal
    if order_amount_fen < template.threshold_fen:
        raise AppError(
            "coupon.threshold_not_met",
            message=f"This coupon needs an order of at least {template.threshold_fen} fen.",
            details={"threshold_fen": template.threshold_fen, "order_amount_fen": order_amount_fen},
        )
    discount = discount_for(template, order_amount_fen)
    if dry_run:
        preview = CouponRedemption(
            id=None, coupon_id=coupon.id, discount_fen=discount, status="preview"
        )
        return RedemptionResult(preview, template, dry_run=True)
    # The one decision: only an unused coupon inside its validity becomes used.
    won = session.execute(
        update(Coupon)
        .where(
            Coupon.id == coupon.id,
            Coupon.status == "unused",
            Coupon.valid_from <= now,
            Coupon.valid_until >= now,
        )
        .values(status="used", used_at=now)
        .returning(Coupon.id)
    ).scalar_one_or_none()
    if won is None:  # another till used it a moment ago (or it just ended)
        session.refresh(coupon)
        replay = _same_order(session, coupon, store_id, order_no)
        if replay is not None:
            return RedemptionResult(replay, template, dry_run=False)
        raise _refusal(coupon, now) or AppError("coupon.used", message="Already used.")
    redemption = CouponRedemption(
        coupon_id=coupon.id,
        member_id=coupon.member_id,
        store_id=store_id,
        staff_id=staff.id,
        order_no=order_no,
        order_amount_fen=order_amount_fen,
        discount_fen=discount,
        status="applied",
        created_at=now,
    )
    session.add(redemption)
    session.flush()
    audit.record(
        session,
        staff,
        "coupon.redeem",
        "coupon",
        coupon.id,
        {"order_no": order_no, "discount_fen": discount, "redemption_id": redemption.id},
    )
    return RedemptionResult(redemption, template, dry_run=False)


def _same_order(session: Session, coupon: Coupon, store_id: int, order_no: str):
    return session.execute(
        select(CouponRedemption).where(
            CouponRedemption.coupon_id == coupon.id,
            CouponRedemption.status == "applied",
            CouponRedemption.store_id == store_id,
            CouponRedemption.order_no == order_no,
        )
    ).scalar_one_or_none()


def applied_on_order(session: Session, store_id: int, order_no: str) -> list[dict]:
    """The coupons used on this order number at this store: code and discount, in the order
    they were redeemed."""
    rows = session.execute(
        select(Coupon.code, CouponRedemption.discount_fen)
        .join(Coupon, Coupon.id == CouponRedemption.coupon_id)
        .where(
            CouponRedemption.store_id == store_id,
            CouponRedemption.order_no == order_no,
            CouponRedemption.status == "applied",
        )
        .order_by(CouponRedemption.id)
    )
    return [{"code": code, "discount_fen": fen} for code, fen in rows]


def _reverse(session: Session, redemption_id: int, staff_id, reason: str, now) -> bool:
    """Mark the redemption reversed and the coupon unused again; False if already reversed."""
    done = session.execute(
        update(CouponRedemption)
        .where(CouponRedemption.id == redemption_id, CouponRedemption.status == "applied")
        .values(status="reversed", reversed_at=now, reversed_by=staff_id, reversal_reason=reason)
        .returning(CouponRedemption.coupon_id)
    ).scalar_one_or_none()
    if done is None:
        return False
    session.execute(update(Coupon).where(Coupon.id == done).values(status="unused", used_at=None))
    return True


def reverse(
    session: Session, staff: Staff, redemption_id: int, reason: str, now=None
) -> RedemptionResult:
    """Undo a redemption (the order was refunded or rung up wrongly): the coupon can be used
    again while it is still valid. Reversing twice changes nothing. Only the store's own staff
    (or chain-wide roles) may reverse; others get 404."""
    now = now or clock.now()
    redemption = session.get(CouponRedemption, redemption_id)
    scope = store_scope(staff)
    if redemption is None or (scope is not None and redemption.store_id != scope):
        raise AppError("redemption.not_found")
    if _reverse(session, redemption_id, staff.id, reason, now):
        audit.record(
            session,
            staff,
            "coupon.redemption.reverse",
            "coupon",
            redemption.coupon_id,
            {"redemption_id": redemption_id, "reason": reason},
            store_id=redemption.store_id,
        )
    session.refresh(redemption)
    template = session.get(CouponTemplate, session.get(Coupon, redemption.coupon_id).template_id)
    return RedemptionResult(redemption, template, dry_run=False)


def coupons_of_order(session: Session, store_id: int, order_no: str) -> list[Coupon]:
    """The coupons used on an order (same store, same order number), as they stand now: still
    used, or given back by a reversal or the order's full refund."""
    return list(
        session.execute(
            select(Coupon)
            .where(
                Coupon.id.in_(
                    select(CouponRedemption.coupon_id).where(
                        CouponRedemption.store_id == store_id,
                        CouponRedemption.order_no == order_no,
                    )
                )
            )
            .order_by(Coupon.id)
            .execution_options(populate_existing=True)
        ).scalars()
    )


def reverse_for_refunded_order(session: Session, purchase: Purchase, refund: Refund) -> int:
    """A fully refunded order gives back the coupons used on it (same store, same order
    number); a partial refund keeps them used. Runs inside the refund's transaction."""
    if purchase.refunded_fen < purchase.amount_fen:
        return 0
    ids = session.execute(
        select(CouponRedemption.id).where(
            CouponRedemption.store_id == purchase.store_id,
            CouponRedemption.order_no == purchase.order_no,
            CouponRedemption.status == "applied",
        )
    ).scalars()
    now = clock.now()
    return sum(
        _reverse(session, rid, refund.staff_id, f"refund {refund.refund_no}", now)
        for rid in ids.all()
    )
