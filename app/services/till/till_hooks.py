"""What other programs do when a purchase is recorded or refunded (referrals, coupons).

The one place they join in; each call runs inside the till's transaction.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Purchase, Refund
from app.services import referrals
from app.services.coupons import coupon_redemptions
from app.services.referrals import referral_rewards


def purchase_recorded(session: Session, purchase: Purchase) -> None:
    """After a till purchase earned its points."""

    referrals.try_qualify(session, purchase.member_id)


def purchase_refunded(session: Session, purchase: Purchase, refund: Refund) -> None:
    """After a refund reversed its points."""

    referral_rewards.cancel_for_refund(session, purchase, refund, referrals.program(session))
    coupon_redemptions.reverse_for_refunded_order(session, purchase, refund)
