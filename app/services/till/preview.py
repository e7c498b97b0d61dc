"""A purchase's dry run: the answer it would get, recording nothing."""

from __future__ import annotations

from app import clock
from app.errors import AppError
from app.models import Member
from app.services import ledger, membership
from app.services.benefits import promotions
from app.services.ledger import points_program
from app.services.till import answers, points_at_till


def preview(
    session,
    cfg,
    store_id,
    member_id,
    order_no,
    amount_fen,
    points,
    paid_at,
    coupon_fen=None,
    lines=None,
):
    """The purchase as it would be recorded, recording nothing: no purchase, no ledger entry,
    the order number left free. Short of points is 409 points.insufficient as for real; the
    answer adds the most points the order takes (`max_points_to_redeem`)."""
    member = session.get(Member, member_id)
    if member is None or member.closed_at is not None:
        raise AppError("member.not_found")
    balance = ledger.balance_of(session, member.id)
    if coupon_fen is None:
        coupon_fen = points_at_till.coupon_discount_fen(session, store_id, order_no)
    coupon_fen = min(coupon_fen, amount_fen)
    rule = points_at_till.rule_of(cfg)
    redemption = points_at_till.redemption_for(rule, amount_fen - coupon_fen, points)
    if redemption.points > balance:
        raise AppError(
            "points.insufficient", details={"needed": redemption.points, "balance": balance}
        )
    payable = amount_fen - coupon_fen - redemption.discount_fen
    joined_later = member.joined_at >= clock.business_day_end(clock.business_date(paid_at))
    paid_percent = membership.multiplier_percent_on(
        session, member.id, clock.business_date(paid_at)
    )
    awarded = (
        0
        if joined_later
        else points_program.purchase_points(cfg, payable, member.tier_code, paid_percent)
    )
    # A promotion multiplies what the member earns (the paid plan's multiplier included).
    promoted, extra = answers.promoted_points(
        session, cfg, store_id, member.tier_code, paid_at, amount_fen, payable, awarded, lines
    )
    awarded += extra
    answer = answers.purchase_answer(
        None,
        order_no,
        member.id,
        amount_fen,
        coupon_fen,
        redemption.points,
        redemption.discount_fen,
        awarded,
        balance - redemption.points + awarded,
        promotions.as_answer(promoted),
    )
    answer["max_points_to_redeem"] = points_at_till.max_points(
        rule, amount_fen - coupon_fen, balance
    )
    return answer
