"""Referral rewards: created when an invitee qualifies, granted by the daily job once the
qualifying purchase can no longer be refunded, cancelled if it is refunded, and held for a
marketer's review when the referral was flagged as part of a suspicious burst."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Purchase, Refund, Staff
from app.models.base import insert_ignore
from app.models.referrals import Referral, ReferralReward
from app.services import ledger, pagination
from app.services.coupons import issue_coupon
from app.services.staff import audit

BATCH = 500
log = logging.getLogger("huiyuan.referrals")


def create_rewards(session: Session, referral: Referral, purchase: Purchase, cfg, now) -> int:
    """The rewards the program promises to the referrer and the invitee (points and/or a
    coupon each); due when the purchase's refund window has passed."""
    due_at = purchase.paid_at + timedelta(days=int(cfg["refund_window_days"]))
    created = 0
    for role, member_id in (("referrer", referral.referrer_id), ("invitee", referral.invitee_id)):
        points_ = int(cfg[f"{role}_points"] or 0)
        template_id = cfg.get(f"{role}_coupon_template_id")
        if points_ <= 0 and not template_id:
            continue
        created += insert_ignore(
            session,
            ReferralReward,
            {
                "referral_id": referral.id,
                "member_id": member_id,
                "role": role,
                "points": points_,
                "coupon_template_id": template_id,
                "status": "held" if referral.flagged else "pending",
                "due_at": due_at,
                "created_at": now,
                "note": "",
            },
            "referral_id",
            "role",
        ).rowcount
    return created


def cancel_for_refund(session: Session, purchase: Purchase, refund: Refund, cfg) -> int:
    """A refund that takes the qualifying purchase below the set amount cancels the rewards
    not yet granted and rejects the referral (granted rewards stay: their window had passed)."""
    if purchase.amount_fen - purchase.refunded_fen >= int(cfg["min_purchase_fen"]):
        return 0
    now = clock.now()
    referral_ids = (
        session.execute(
            update(Referral)
            .where(Referral.qualifying_purchase_id == purchase.id, Referral.status == "qualified")
            .values(status="rejected", reject_reason="refunded", rejected_at=now)
            .returning(Referral.id)
        )
        .scalars()
        .all()
    )
    if not referral_ids:
        return 0
    return len(
        session.execute(
            update(ReferralReward)
            .where(
                ReferralReward.referral_id.in_(referral_ids),
                ReferralReward.status.in_(("pending", "held")),
            )
            .values(status="cancelled", cancelled_at=now, note=f"refund {refund.refund_no}")
            .returning(ReferralReward.id)
        ).all()
    )


def _grant(session: Session, reward_id: int, now: datetime) -> bool:
    """Grant one due reward: points through the ledger, the coupon through issue_coupon (a
    coupon that ran out is noted, the points are still paid). Once only."""
    reward = session.execute(
        update(ReferralReward)
        .where(ReferralReward.id == reward_id, ReferralReward.status == "pending")
        .values(status="granted", granted_at=now)
        .returning(ReferralReward)
    ).scalar_one_or_none()
    if reward is None:
        return False
    if reward.points > 0:
        ledger.earn(
            session,
            reward.member_id,
            reward.points,
            reason="referral",
            ref=f"referral-reward:{reward.id}",
            now=now,
        )
    if reward.coupon_template_id:
        try:
            coupon = issue_coupon(
                session,
                reward.coupon_template_id,
                reward.member_id,
                source="referral",
                ref=f"referral:{reward.id}",
                now=now,
            )
            reward.coupon_id = coupon.id
        except AppError as err:
            reward.note = f"coupon refused: {err.code}"
    open_left = session.execute(
        select(ReferralReward.id).where(
            ReferralReward.referral_id == reward.referral_id,
            ReferralReward.status.in_(("pending", "held")),
        )
    ).first()
    if open_left is None:
        session.execute(
            update(Referral)
            .where(Referral.id == reward.referral_id, Referral.status == "qualified")
            .values(status="rewarded", rewarded_at=now)
        )
    return True


def settle_due(session: Session, now: datetime | None = None) -> dict:
    """The daily settlement: grant every pending reward whose refund window has passed, and
    close bindings whose time to qualify ran out. Each reward commits on its own, so a crash
    loses nothing and a rerun grants nothing twice."""
    now = now or clock.now()
    expired = session.execute(
        update(Referral)
        .where(Referral.status == "bound", Referral.qualify_by < now)
        .values(status="rejected", reject_reason="not_qualified_in_time", rejected_at=now)
        .returning(Referral.id)
    ).all()
    session.commit()
    granted, failed = 0, []
    while True:
        query = (
            select(ReferralReward.id)
            .where(ReferralReward.status == "pending", ReferralReward.due_at <= now)
            .order_by(ReferralReward.id)
            .limit(BATCH)
        )
        if failed:
            query = query.where(ReferralReward.id.notin_(failed))
        due = session.execute(query).scalars().all()
        if not due:
            break
        for reward_id in due:
            try:
                granted += _grant(session, reward_id, now)
                session.commit()
            except Exception:  # noqa: BLE001 - one bad reward must not hold up the others
                session.rollback()
                log.exception("referral reward %s could not be granted", reward_id)
                failed.append(reward_id)
    return {"granted": granted, "failed": len(failed), "bindings_expired": len(expired)}


def list_for_review(session: Session, flagged_only: bool, limit: int, cursor) -> pagination.Page:
    query = select(Referral)
    if flagged_only:
        query = query.where(Referral.flagged.is_(True), Referral.reviewed_by.is_(None))
    return pagination.page(session, query, Referral.id, limit, cursor)


def review(session: Session, referral_id: int, approve: bool, staff: Staff, now=None) -> Referral:
    """A marketer's decision on a flagged referral: approve (held rewards become pending and
    are paid when due) or reject (rewards cancelled, referral rejected)."""
    now = now or clock.now()
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise AppError("referral.not_found")
    referral.reviewed_by = staff.id
    if approve:
        referral.flagged = False
        session.execute(
            update(ReferralReward)
            .where(ReferralReward.referral_id == referral_id, ReferralReward.status == "held")
            .values(status="pending")
        )
    else:
        if referral.status in ("bound", "qualified"):
            referral.status, referral.reject_reason = "rejected", "review_rejected"
            referral.rejected_at = now
        session.execute(
            update(ReferralReward)
            .where(
                ReferralReward.referral_id == referral_id,
                ReferralReward.status.in_(("pending", "held")),
            )
            .values(status="cancelled", cancelled_at=now, note="rejected on review")
        )
    audit.record(session, staff, "referral.review", "referral", referral_id, {"approve": approve})
    session.commit()
    return referral
