"""What happens when a member is created or binds a phone: the one place other programs join in.

Each program (referrals, sign-up coupons) adds its call here; nothing else needs to know.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Member
from app.services import coupons, referrals


def run(
    session: Session, member: Member, referral_code: str | None, unionid: str | None = None
) -> None:
    """Called inside the sign-up transaction of a brand-new member. `unionid` is what WeChat
    said, even when sign-in kept it off the member because another member already holds it."""

    referrals.bind_at_signup(session, member, referral_code, unionid)
    coupons.give_signup_gifts(session, member)


def phone_bound(session: Session, member: Member) -> None:
    """Called inside the transaction that bound the member's phone."""

    session.refresh(member)
    referrals.on_phone_bound(session, member)
