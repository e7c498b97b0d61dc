"""Closing an account (注销): what PIPL and WeChat's mini-program review require.

The person's data goes (WeChat identifiers, phone, nickname, avatar, birthday, gender, the
imported customer id, the session key); the books stay: the member row keeps its id, member
number, store and balance, so the ledger, orders, coupons and campaign figures still add up,
without anyone behind them. Open coupons are voided, queued messages cancelled, subscription
quotas dropped. The same WeChat user signing in later has no openid to match and becomes a new
member. What is kept on purpose: the sha256 digests of the phone and unionid in
member_identities (they only say "this phone was already a member", which stops a closed and
re-opened account collecting new-member and referral rewards twice).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member, Staff
from app.models.coupons import Coupon
from app.models.messaging import OutboxMessage, SubscriptionQuota
from app.services.staff import audit, store_scope

ERASED = {
    "openid": None,
    "unionid": None,
    "session_key_encrypted": None,
    "phone_encrypted": None,
    "phone_hash": None,
    "external_id": None,
    "nickname": "",
    "avatar_url": "",
    "birthday": None,
    "gender": 0,
}


def close_account(session: Session, member_id: int, now: datetime | None = None) -> bool:
    """Close the member's account: personal data erased, open coupons voided, queued messages
    cancelled; balance, entries and orders kept. True if it closed now, False if it was closed
    already (closing twice changes nothing)."""
    now = now or clock.now()
    # The member's row first, as every ledger movement locks it: a purchase or a draw in flight
    # finishes before the account closes, and none starts on a closed one.
    closed = session.execute(
        update(Member)
        .where(Member.id == member_id, Member.closed_at.is_(None))
        .values(**ERASED, closed_at=now, updated_at=now)
        .returning(Member.id)
    ).scalar_one_or_none()
    if closed is None:
        if session.scalar(select(Member.id).where(Member.id == member_id)) is None:
            raise AppError("member.not_found")
        return False
    session.execute(
        update(Coupon)
        .where(Coupon.member_id == member_id, Coupon.status == "unused")
        .values(status="voided")
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.member_id == member_id, OutboxMessage.state == "pending")
        .values(state="cancelled", reason="account_closed", finished_at=now)
    )
    session.execute(delete(SubscriptionQuota).where(SubscriptionQuota.member_id == member_id))
    return True


def close_for_member_in_store(session: Session, staff: Staff, member_id: int) -> None:
    """A manager closes the account of a member who asks in store (their own store's members
    only; marketers and admins any member); recorded in the audit trail."""
    scope = store_scope(staff)
    found = session.execute(
        select(Member.store_id).where(Member.id == member_id, Member.closed_at.is_(None))
    ).first()
    if found is None or (scope is not None and found.store_id != scope):
        raise AppError("member.not_found")
    if not close_account(session, member_id):
        raise AppError("member.not_found")
    audit.record(session, staff, "member.close", "member", member_id)
