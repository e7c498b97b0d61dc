"""Points at the till (积分抵现): how many points an order may take and what they take off.

The rule is the points program's `redeem` {points_per_yuan_off, max_share_percent, min_points}.
Coupons apply first (the coupon redemptions already made on the same order number at the same
store), then points, on what is left: the order's base. Money in fen, points in integers:

- discount_fen = points x 100 // points_per_yuan_off (floor: a point never buys more than it is
  worth), and the points taken are the fewest that buy that discount,
  ceil(discount_fen x points_per_yuan_off / 100), never more than asked. At 150 points a yuan,
  100 points asked take 66 fen off and 99 points (the 100th would buy two thirds of a fen).
- the discount is at most base x max_share_percent // 100 (floor), and the points asked at least
  min_points; otherwise 422 points.redeem_over_limit, with the most points the order takes.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import AppError
from app.models.coupons import CouponRedemption


class Redemption(NamedTuple):
    """What points take off an order: the points taken and the fen they take off."""

    points: int
    discount_fen: int


NONE = Redemption(0, 0)


def rule_of(cfg: dict) -> dict | None:
    """The program's till rule, or None when the till takes no points."""
    rule = cfg.get("redeem")
    if not rule or int(rule.get("points_per_yuan_off") or 0) <= 0:
        return None
    return rule


def coupon_discount_fen(session: Session, store_id: int, order_no: str) -> int:
    """What the coupons used on this order (same store, same order number) take off."""
    return session.execute(
        select(func.coalesce(func.sum(CouponRedemption.discount_fen), 0)).where(
            CouponRedemption.store_id == store_id,
            CouponRedemption.order_no == order_no,
            CouponRedemption.status == "applied",
        )
    ).scalar_one()


def _discount(per_yuan: int, points: int) -> Redemption:
    discount = points * 100 // per_yuan
    return Redemption(-(-discount * per_yuan // 100), discount)


def max_points(rule: dict | None, base_fen: int, balance: int | None = None) -> int:
    """The most points this order takes (by its share, and the balance when given): the fewest
    points that buy the largest discount allowed; 0 when that is below min_points."""
    if rule is None or base_fen <= 0:
        return 0
    per_yuan = int(rule["points_per_yuan_off"])
    cap_fen = base_fen * int(rule["max_share_percent"]) // 100
    points = -(-cap_fen * per_yuan // 100)
    if balance is not None:
        points = min(points, _discount(per_yuan, max(balance, 0)).points)
    return points if points >= int(rule.get("min_points") or 0) else 0


def redemption_for(rule: dict | None, base_fen: int, points: int) -> Redemption:
    """The points taken and the discount for `points` asked on an order whose base (after
    coupons) is `base_fen`; 422 points.redeem_over_limit when the rule does not allow them."""
    if points <= 0:
        return NONE
    if rule is None:
        raise AppError(
            "points.redeem_over_limit",
            message="The till takes no points: the points program has no redeem rule.",
            details={"max_points": 0},
        )
    per_yuan = int(rule["points_per_yuan_off"])
    taken = _discount(per_yuan, points)
    most = max_points(rule, base_fen)
    cap_fen = base_fen * int(rule["max_share_percent"]) // 100
    details = {"max_points": most, "max_discount_fen": cap_fen}
    min_points = int(rule.get("min_points") or 0)
    if points < min_points:
        raise AppError(
            "points.redeem_over_limit",
            message=f"At least {min_points} points at a time.",
            details={**details, "min_points": min_points},
        )
    if taken.discount_fen == 0:
        raise AppError(
            "points.redeem_over_limit",
            message=f"{points} points buy less than one fen ({per_yuan} points a yuan).",
            details=details,
        )
    if taken.discount_fen > cap_fen:
        raise AppError(
            "points.redeem_over_limit",
            message=f"Points may pay at most {rule['max_share_percent']}% of this order.",
            details=details,
        )
    return taken


def refund_shares(purchase, refunded_total: int) -> tuple[int, int]:
    """What a refund bringing the order's refunded total to `refunded_total` gives back of the
    redeemed points and reverses of the earned ones, this time: each is the total's share of
    the order, rounded down, on the running total (minus what earlier refunds did), so the last
    refund of a whole order gives back and reverses exactly the remainder."""
    returned = purchase.points_redeemed * refunded_total // purchase.amount_fen
    reversed_ = purchase.points_awarded * refunded_total // purchase.amount_fen
    return returned - purchase.points_returned, reversed_ - purchase.points_reversed
