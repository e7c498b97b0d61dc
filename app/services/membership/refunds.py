"""Refunding a paid membership order (admin): the unused whole months, through WeChat Pay.

The months used are those begun: on a business day inside the order's period, the month in
progress counts as used; a period not begun yet is refunded whole. The refund is
amount x unused months / months, rounded down to the fen. The refund is claimed once, by a
conditional update (`paid` to `refunding`) that writes its unique refund number `R<order_no>`,
and the membership ends (its last day is yesterday) in that same transaction; WeChat Pay is then
asked with that number, which it dedupes, so a repeated or concurrent tap, or a retry after
WeChat Pay did not answer, is the same refund and the same answer. WeChat Pay answers a refund
PROCESSING and later notifies REFUND.SUCCESS (`refund_settled`, applied once): the order is
`refunding` until then, `refunded` after.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Staff
from app.models.membership import Membership, MembershipOrder
from app.services.staff import audit
from app.wechat import pay


def unused_months(period_start: date, months: int, today: date) -> int:
    """Whole months of the period not begun by `today`."""
    if today < period_start:
        return months
    begun = 0
    while begun < months and period_start + relativedelta(months=begun) <= today:
        begun += 1
    return months - begun


def _answer(order: MembershipOrder) -> dict:
    return {
        "order_no": order.order_no,
        "refund_no": order.refund_no,
        "refund_fen": order.refund_fen,
        "refund_months": order.refund_months,
        "status": order.status,
        "refund_status": order.refund_status,
    }


def _order(session: Session, order_no: str) -> MembershipOrder:
    order = session.execute(
        select(MembershipOrder)
        .where(MembershipOrder.order_no == order_no)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if order is None:
        raise AppError("not_found", message="No such membership order.")
    return order


def refund_order(
    session: Session, staff: Staff, order_no: str, reason: str, now: datetime | None = None
) -> dict:
    """Refund the unused whole months of a paid order and end the membership; once. 404
    not_found, 409 membership.not_refundable (not paid); WeChat Pay down: 502, the refund
    stays claimed and a retry asks again."""
    now = now or clock.now()
    today = clock.business_date(now)
    order = _order(session, order_no)
    if order.status == "paid":
        unused = unused_months(order.period_start, order.months, today)
        refund_fen = order.amount_fen * unused // order.months
        claimed = session.execute(
            update(MembershipOrder)
            .where(MembershipOrder.id == order.id, MembershipOrder.status == "paid")
            .values(
                status="refunding" if refund_fen else "refunded",
                refund_no=f"R{order.order_no}",
                refund_fen=refund_fen,
                refund_months=unused,
                refund_reason=reason,
                refunded_at=now,
                refunded_by=staff.id,
            )
            .returning(MembershipOrder.id)
        ).scalar_one_or_none()
        if claimed is not None:
            session.execute(
                update(Membership)
                .where(Membership.member_id == order.member_id)
                .values(
                    ends_on=func.least(Membership.ends_on, today - timedelta(days=1)),
                    updated_at=now,
                )
            )
            audit.record(
                session,
                staff,
                "membership.refund",
                "membership_order",
                order.order_no,
                {"refund_fen": refund_fen, "refund_months": unused, "reason": reason},
            )
        session.commit()
        order = _order(session, order_no)
    if order.status not in ("refunding", "refunded"):
        raise AppError(
            "membership.not_refundable", message=f"This order is {order.status}, not paid."
        )
    if order.status == "refunding" and order.refund_status is None:  # not asked yet, or no answer
        send_refund(session, order)
    return _answer(order)


def send_refund(session: Session, order: MembershipOrder) -> None:
    """Ask WeChat Pay for the claimed refund (deduped there by its number); commits. WeChat Pay
    answers PROCESSING and notifies REFUND.SUCCESS later: the order stays `refunding` until
    then (or until the settling job's query finds it done)."""
    answer = pay.refund(
        order.order_no, order.refund_no, order.refund_fen, order.amount_fen, order.refund_reason
    )
    refund_settled(session, order.refund_no, answer.get("status") or "PROCESSING")
    session.commit()
    session.refresh(order)


def check_refund(session: Session, order: MembershipOrder) -> None:
    """Ask WeChat Pay how a refund in progress stands (its notification may be lost); commits."""
    answer = pay.query_refund(order.refund_no)
    if answer.get("status"):
        refund_settled(session, order.refund_no, answer["status"])
    session.commit()


def refund_settled(session: Session, refund_no: str | None, status: str) -> str:
    """Record WeChat Pay's word on a refund (its answer, its notification or a query), once:
    SUCCESS makes the order `refunded`; PROCESSING, ABNORMAL (the shopper's account refused it:
    see WeChat Pay's merchant platform) or CLOSED is kept in `refund_status`, the order still
    `refunding`. A conditional update: a repeated notification, or one arriving before the
    answer, changes nothing more. 'applied' or 'already'. Flushes."""
    if not refund_no or not status:
        return "already"
    done = session.execute(
        update(MembershipOrder)
        .where(
            MembershipOrder.refund_no == refund_no,
            MembershipOrder.status == "refunding",
            MembershipOrder.refund_status.is_distinct_from(status),
        )
        .values(status="refunded" if status == "SUCCESS" else "refunding", refund_status=status)
    ).rowcount
    return "applied" if done else "already"
