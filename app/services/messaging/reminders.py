"""The daily messages: points about to expire, and wake-ups for members who went to sleep."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import Session

from app import clock
from app.models.messaging import OutboxMessage
from app.models.points import PointLot
from app.models.segments import MemberSegment
from app.services.coupons import coupon_push
from app.services.messaging import outbox

BATCH = 1000


def points_expiry_reminder(session: Session, now: datetime) -> dict:
    """Tell each member whose points expire within N days, once per member per expiry date.

    The message names the soonest date and the points expiring on it; queued now, sent from the
    morning if it is quiet hours.
    """
    cfg = outbox.settings(session)
    today = clock.business_date(now)
    horizon = today + timedelta(days=int(cfg["expiry_reminder_days"]))
    rows = session.execute(
        select(
            PointLot.member_id, PointLot.expires_on, cast(func.sum(PointLot.remaining), BigInteger)
        )
        .where(
            PointLot.remaining > 0,
            PointLot.expires_on >= today,
            PointLot.expires_on <= horizon,
        )
        .group_by(PointLot.member_id, PointLot.expires_on)
        .order_by(PointLot.member_id, PointLot.expires_on)
    ).all()
    soonest: dict[int, tuple[date, int]] = {}
    for member_id, expires_on, total in rows:
        soonest.setdefault(member_id, (expires_on, int(total)))
    queued = 0
    items = list(soonest.items())
    for start in range(0, len(items), BATCH):
        batch = [
            {
                "member_id": member_id,
                "dedupe_key": expires_on.isoformat(),
                "params": {"expiring_points": points, "expires_on": expires_on.isoformat()},
            }
            for member_id, (expires_on, points) in items[start : start + BATCH]
        ]
        queued += outbox.enqueue(
            session,
            "points_expiry",
            batch,
            now,
            marketing=False,
            not_before=outbox.send_time(now, cfg),
        )
        session.commit()
    return {"members": len(items), "queued": queued}


def sleeping_members(session: Session) -> list[tuple[int, date]]:
    """(member, the day they entered the sleeping stage) for every member asleep now, as the
    last nightly lifecycle refresh (member_segments) found them."""
    return [
        (member_id, since)
        for member_id, since in session.execute(
            select(MemberSegment.member_id, MemberSegment.stage_since).where(
                MemberSegment.lifecycle_stage == "sleeping"
            )
        ).all()
    ]


def dormant_wakeup(session: Session, now: datetime) -> dict:
    """Wake members who entered the sleeping stage: once per entry, at most once per 30 days.

    With a wake-up coupon configured, the coupon is given in the same transaction as the message
    is queued (once per member and sleeping spell).
    """
    cfg = outbox.settings(session)
    since = now - timedelta(days=int(cfg["wakeup_every_days"]))
    recent = {
        member_id
        for (member_id,) in session.execute(
            select(OutboxMessage.member_id).where(
                OutboxMessage.purpose == "dormant_wakeup", OutboxMessage.created_at >= since
            )
        ).all()
    }
    candidates = [(m, d) for m, d in sleeping_members(session) if m not in recent]
    coupon_template = cfg.get("wakeup_coupon_template_id")
    queued = coupons = 0
    for start in range(0, len(candidates), BATCH):
        chunk = candidates[start : start + BATCH]
        rows = [{"member_id": m, "dedupe_key": d.isoformat(), "params": None} for m, d in chunk]
        new_ids = outbox.enqueue_ids(
            session,
            "dormant_wakeup",
            rows,
            now,
            marketing=True,
            not_before=outbox.send_time(now, cfg),
        )
        queued += len(new_ids)
        if coupon_template and new_ids:
            new_members = session.execute(
                select(OutboxMessage.member_id, OutboxMessage.dedupe_key).where(
                    OutboxMessage.id.in_(new_ids)
                )
            ).all()
            for member_id, key in new_members:
                pushed = coupon_push.push_coupon(
                    session,
                    int(coupon_template),
                    member_id,
                    source="wakeup",
                    ref=f"wakeup:{member_id}:{key}",
                    now=now,
                )
                coupons += pushed is not None
        session.commit()
    return {"sleeping": len(candidates), "queued": queued, "coupons": coupons}
