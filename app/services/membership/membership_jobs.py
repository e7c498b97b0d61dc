"""The paid membership's jobs: settling orders whose notification never came, the monthly
coupons of the plans, and the reminders before a membership ends.

Settling: the orders still pending two minutes after they were made are picked in one statement
(oldest first, a batch at a time); each is asked of WeChat Pay (one query per order: WeChat Pay
has no batch query) and applied through the same conditional update as a notification, so a
notification arriving meanwhile changes nothing more. Unpaid orders past their time_expire are
closed there and here. Refunds WeChat Pay did not answer are asked again; those it answered
PROCESSING and has not notified done are asked about (its refund query).

Coupons: each active paid member gets each of the plan's monthly coupon templates once per
calendar month (business time zone), ref `plan:<member>:<YYYY-MM>:<template>`, through the bulk
push (one statement per batch of members and template). The job runs daily: on the 1st everyone
gets the month's coupons, and a member who joins mid-month gets them the next night.

Reminders: a member whose membership ends within REMIND_DAYS is queued one `membership_expiring`
message per end date (renewing moves the end date, so the next end is reminded again).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models.membership import MembershipOrder
from app.services import membership
from app.services.coupons import coupon_push
from app.services.membership import refunds
from app.services.messaging import outbox
from app.wechat import pay

log = logging.getLogger("huiyuan.membership")
SETTLE_AFTER = timedelta(minutes=2)  # WeChat Pay's first notification comes within seconds
SETTLE_BATCH = 200
COUPON_BATCH = 5_000
REMIND_DAYS = 7
EXPIRING_PURPOSE = "membership_expiring"


def settle_orders(session: Session, now: datetime) -> dict:
    """Pending orders older than SETTLE_AFTER: applied when WeChat Pay says paid, closed when
    their time to pay is over; refunds left claimed are asked again, those in progress queried.
    Counts."""
    counts = {"checked": 0, "paid": 0, "closed": 0, "refunds": 0, "errors": 0}
    due = session.execute(
        select(MembershipOrder.order_no, MembershipOrder.status, MembershipOrder.expires_at)
        .where(
            MembershipOrder.status.in_(("pending", "refunding")),
            # A refund WeChat Pay called ABNORMAL or CLOSED needs a person, not a retry.
            MembershipOrder.refund_status.is_(None)
            | (MembershipOrder.refund_status == "PROCESSING"),
            MembershipOrder.created_at <= now - SETTLE_AFTER,
        )
        .order_by(MembershipOrder.created_at)
        .limit(SETTLE_BATCH)
    ).all()
    session.commit()
    for order_no, status, expires_at in due:
        counts["checked"] += 1
        try:
            if status == "refunding":
                order = session.execute(
                    select(MembershipOrder).where(MembershipOrder.order_no == order_no)
                ).scalar_one()
                if order.refund_status is None:  # WeChat Pay did not answer: ask again
                    refunds.send_refund(session, order)
                else:  # in progress: its notification may be lost
                    refunds.check_refund(session, order)
                counts["refunds"] += 1
                continue
            transaction = pay.query(order_no)
            state = transaction.get("trade_state")
            if state == "SUCCESS":
                if membership.apply_payment(session, transaction, now) == "applied":
                    counts["paid"] += 1
            elif state in ("CLOSED", "REVOKED", "PAYERROR") or (
                now > expires_at and (state != "NOTPAY" or pay.close(order_no))
            ):
                counts["closed"] += session.execute(
                    update(MembershipOrder)
                    .where(
                        MembershipOrder.order_no == order_no, MembershipOrder.status == "pending"
                    )
                    .values(status="closed")
                ).rowcount
            session.commit()
        except AppError as exc:  # WeChat Pay down or refusing: the next run tries again
            session.rollback()
            counts["errors"] += 1
            log.warning("membership order %s not settled: %s", order_no, exc.code)
    return counts


# Active paid members in an id range with their plan's templates, and the month's refs.
_COUPONS_DUE = text(
    """
    SELECT CAST(t.template AS bigint) AS template_id, array_agg(ms.member_id ORDER BY ms.member_id),
           array_agg('plan:' || ms.member_id || ':' || :month || ':' || t.template
                     ORDER BY ms.member_id)
    FROM memberships ms
    JOIN membership_plans p ON p.id = ms.plan_id
    CROSS JOIN LATERAL json_array_elements_text(p.monthly_coupons) AS t(template)
    JOIN members m ON m.id = ms.member_id AND m.closed_at IS NULL
    WHERE ms.starts_on <= :today AND ms.ends_on >= :today
      AND ms.member_id >= :lo AND ms.member_id < :hi
    GROUP BY t.template
    """
)


def monthly_coupons(session: Session, now: datetime, width: int = COUPON_BATCH) -> dict:
    """This month's plan coupons to every active paid member who lacks them; commits per
    batch. Counts: `coupons` given now."""
    today = clock.business_date(now)
    month = today.strftime("%Y-%m")
    lo, hi = session.execute(text("SELECT min(member_id), max(member_id) FROM memberships")).one()
    session.commit()
    counts = {"coupons": 0}
    if lo is None:
        return counts
    for start in range(lo, hi + 1, width):
        rows = session.execute(
            _COUPONS_DUE, {"month": month, "today": today, "lo": start, "hi": start + width}
        ).all()
        for template_id, ids, refs in rows:
            counts["coupons"] += coupon_push.push_coupons(
                session, template_id, list(ids), list(refs), source="membership", now=now
            )
        session.commit()
    return counts


_EXPIRING = """
    SELECT ms.member_id, CAST(ms.ends_on AS text) AS dedupe_key,
           json_build_object('ends_on', CAST(ms.ends_on AS text)) AS params
    FROM memberships ms JOIN members m ON m.id = ms.member_id AND m.closed_at IS NULL
    WHERE ms.ends_on >= :today AND ms.ends_on < :until AND ms.starts_on <= :today
"""


def expiry_reminders(session: Session, now: datetime) -> dict:
    """Queue a reminder to members whose membership ends within REMIND_DAYS (once per end
    date); one statement. Counts: `queued`."""
    today = clock.business_date(now)
    queued = session.execute(
        text(
            "WITH q AS ("
            + outbox.enqueue_from(EXPIRING_PURPOSE, _EXPIRING, marketing=False)
            + ") SELECT count(*) FROM q"
        ),
        {
            "today": today,
            "until": today + timedelta(days=REMIND_DAYS),
            "now": now,
            "not_before": outbox.send_time(now, outbox.settings(session)),
        },
    ).scalar_one()
    session.commit()
    return {"queued": queued}


def membership_benefits(session: Session, now: datetime) -> dict:
    """The daily job: the month's coupons, then the reminders."""
    return {**monthly_coupons(session, now), **expiry_reminders(session, now)}
