"""Paid membership (付费会员): plans, orders paid through WeChat Pay, the membership they buy.

A paid order adds its plan's months to the member's membership: from the business day after the
current end when the membership is still active (an extension), else from today, in the business
time zone; it ends the day before the same day `months` later (clamped to the month's end: a month
from 31 January ends on 27 February, the 28th starting the next). The order is paid once: a
conditional update on its status (`pending`/`closed` to `paid`, for its exact amount), so a
repeated or concurrent notification and the settling job's query find nothing left to do.

Points: a paid member earns at the till with the higher of their tier's multiplier and their
plan's (not the product: a gold member buying a x1.5 plan earns x1.5 of the base, not x2.25), on
the business days their membership covers.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member
from app.models.membership import Membership, MembershipOrder, MembershipPlan
from app.services.membership import refunds
from app.services.messaging import outbox
from app.wechat import pay

PAY_WITHIN = timedelta(minutes=30)  # the prepay's time_expire; the job closes it after
RENEWED_PURPOSE = "membership_renewed"


def active_plans(session: Session) -> list[MembershipPlan]:
    """The plans on sale, cheapest first."""
    query = select(MembershipPlan).where(MembershipPlan.is_active.is_(True))
    return list(session.execute(query.order_by(MembershipPlan.price_fen)).scalars())


def period_end(start: date, months: int) -> date:
    return start + relativedelta(months=months) - timedelta(days=1)


def _order_no(now: datetime) -> str:
    stamp = now.astimezone(clock.business_tz()).strftime("%Y%m%d%H%M%S")
    return f"M{stamp}{secrets.token_hex(6).upper()}"


def create_order(session: Session, member_id: int, plan_id: int, now: datetime | None = None):
    """A pending order for an active plan with its WeChat Pay JSAPI prepay: the order number and
    what wx.requestPayment takes. 404 not_found, 409 membership.plan_inactive; WeChat Pay
    refusing or down, 502 (nothing kept)."""
    now = now or clock.now()
    plan = session.get(MembershipPlan, plan_id)
    if plan is None:
        raise AppError("not_found", message="No such plan.")
    if not plan.is_active:
        raise AppError("membership.plan_inactive")
    openid = session.execute(select(Member.openid).where(Member.id == member_id)).scalar_one()
    order = MembershipOrder(
        order_no=_order_no(now),
        member_id=member_id,
        plan_id=plan.id,
        amount_fen=plan.price_fen,
        months=plan.months,
        multiplier_percent=plan.multiplier_percent,
        status="pending",
        expires_at=now + PAY_WITHIN,
        created_at=now,
    )
    session.add(order)
    session.flush()
    prepaid = pay.prepay(order.order_no, plan.name[:120], plan.price_fen, openid, order.expires_at)
    order.prepay_id = prepaid["prepay_id"]
    session.flush()
    return {
        "order_no": order.order_no,
        "plan_id": plan.id,
        "amount_fen": plan.price_fen,
        "expires_at": order.expires_at,
        "pay_params": prepaid["pay_params"],
    }


def apply_payment(session: Session, transaction: dict, now: datetime | None = None) -> str:
    """Apply a WeChat Pay transaction (from a notification or a query) to its order, once:
    'applied', 'already' (paid before, or not a success), 'mismatch' (amount differs) or
    'unknown' (no such order). Flushes; the caller commits."""
    now = now or clock.now()
    order_no = transaction.get("out_trade_no") or ""
    if transaction.get("trade_state") != "SUCCESS":
        return "already"
    total = (transaction.get("amount") or {}).get("total")
    claimed = session.execute(
        update(MembershipOrder)
        .where(
            MembershipOrder.order_no == order_no,
            MembershipOrder.status.in_(("pending", "closed")),
            MembershipOrder.amount_fen == total,
        )
        .values(status="paid", transaction_id=transaction.get("transaction_id"), paid_at=now)
        .returning(MembershipOrder.id)
    ).scalar_one_or_none()
    if claimed is None:
        order = session.execute(
            select(MembershipOrder.amount_fen).where(MembershipOrder.order_no == order_no)
        ).scalar_one_or_none()
        if order is None:
            return "unknown"
        return "mismatch" if order != total else "already"
    order = session.get(MembershipOrder, claimed, populate_existing=True)
    _extend(session, order, clock.business_date(now), now)
    return "applied"


def _extend(session: Session, order: MembershipOrder, today: date, now: datetime) -> None:
    """Add the order's months to the member's membership, under the membership's row lock (two
    orders of one member paid at once extend one after the other)."""
    session.execute(
        insert(Membership)
        .values(
            member_id=order.member_id,
            plan_id=order.plan_id,
            multiplier_percent=order.multiplier_percent,
            starts_on=today,
            ends_on=today - timedelta(days=1),
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["member_id"])
    )
    membership = session.execute(
        select(Membership)
        .where(Membership.member_id == order.member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    active = membership.ends_on >= today
    start = membership.ends_on + timedelta(days=1) if active else today
    if not active:
        membership.starts_on = today
    membership.ends_on = period_end(start, order.months)
    membership.plan_id = order.plan_id
    membership.multiplier_percent = order.multiplier_percent
    membership.updated_at = now
    order.period_start, order.period_end = start, membership.ends_on
    session.flush()
    outbox.enqueue(
        session,
        RENEWED_PURPOSE,
        [
            {
                "member_id": order.member_id,
                "dedupe_key": order.order_no,
                "params": {"ends_on": membership.ends_on.isoformat(), "months": order.months},
            }
        ],
        now,
        marketing=False,
    )


def handle_notification(session: Session, headers: dict, body: bytes) -> str:
    """A WeChat Pay notification: verified and decrypted (pay.PayRefused otherwise), then the
    payment applied once (or the refund marked done); commits. What was done."""
    notification = pay.read_notification(headers, body)
    resource = notification["resource"]
    event = notification.get("event_type", "")
    now = clock.now()
    if event.startswith("REFUND."):
        outcome = refunds.refund_settled(
            session, resource.get("out_refund_no"), resource.get("refund_status") or ""
        )
    else:
        outcome = apply_payment(session, resource, now)
    session.commit()
    return outcome


def membership_of(session: Session, member_id: int, today: date | None = None) -> dict:
    """The member's membership: the plan, active today, its first and last days, benefits."""
    today = today or clock.business_today()
    row = session.execute(
        select(Membership, MembershipPlan)
        .join(MembershipPlan, MembershipPlan.id == Membership.plan_id)
        .where(Membership.member_id == member_id)
    ).first()
    if row is None:
        return {"plan": None, "active": False, "starts_on": None, "ends_on": None, "benefits": {}}
    membership, plan = row
    active = membership.starts_on <= today <= membership.ends_on
    return {
        "plan": plan,
        "active": active,
        "starts_on": membership.starts_on,
        "ends_on": membership.ends_on,
        "benefits": {
            "multiplier": membership.multiplier_percent / 100,
            "monthly_coupons": list(plan.monthly_coupons or []),
        }
        if active
        else {},
    }


def brief(session: Session, member_id: int, today: date) -> dict | None:
    """What /me and the till show: the active paid membership's plan, last day and multiplier;
    None when the member has none today."""
    row = session.execute(
        select(MembershipPlan.name, Membership.ends_on, Membership.multiplier_percent)
        .join(MembershipPlan, MembershipPlan.id == Membership.plan_id)
        .where(
            Membership.member_id == member_id,
            Membership.starts_on <= today,
            Membership.ends_on >= today,
        )
    ).first()
    if row is None:
        return None
    return {"plan": row.name, "ends_on": row.ends_on, "multiplier": row.multiplier_percent / 100}


def multiplier_percent_on(session: Session, member_id: int, day: date) -> int:
    """The paid membership's points multiplier (percent) on a business day; 0 when none."""
    found = session.execute(
        select(Membership.multiplier_percent).where(
            Membership.member_id == member_id,
            Membership.starts_on <= day,
            Membership.ends_on >= day,
        )
    ).scalar_one_or_none()
    return found or 0
