"""What other programs do when a purchase is recorded or refunded (referrals, coupons).

The one place they join in; each call runs inside the till's transaction.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Purchase, Refund
from app.services import referrals
from app.services.coupons import coupon_redemptions
from app.services.referrals import referral_rewards

# Whether a program joins in on a purchase by this member, as an SQL condition over `{member}`
# (the till reads it in its first statement): referrals only qualify a bound invitee
# (referrals.try_qualify looks for exactly that first). A referral is bound when the invitee
# signs up, before they have a member code to scan, so the till's read is never too early.
INTEREST_SQL = (
    "EXISTS (SELECT 1 FROM referrals WHERE referrals.invitee_id = {member}"
    " AND referrals.status = 'bound')"
)


def purchase_recorded(session: Session, purchase: Purchase) -> None:
    """After a till purchase earned its points (called when INTEREST_SQL held for its member)."""

    referrals.try_qualify(session, purchase.member_id)


def purchase_refunded(session: Session, purchase: Purchase, refund: Refund) -> None:
    """After a refund reversed its points."""

    referral_rewards.cancel_for_refund(session, purchase, refund, referrals.program(session))
    coupon_redemptions.reverse_for_refunded_order(session, purchase, refund)
