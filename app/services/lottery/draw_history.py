"""What a member has drawn: GET /api/v1/me/draws."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.lottery import Lottery, LotteryDraw, LotteryPrize
from app.services import pagination


def draw_status(draw: LotteryDraw, prize: LotteryPrize | None) -> str:
    """no_prize (nothing won, including a prize gone before it could be given), awarded (points
    or a coupon, given at the draw), awaiting_pickup (a physical prize not handed over yet) or
    collected (handed over at a store)."""
    if draw.outcome != "won" or prize is None or prize.kind == "none":
        return "no_prize"
    if prize.kind == "physical":
        return "collected" if draw.fulfilled_at is not None else "awaiting_pickup"
    return "awarded"


def member_draws(session: Session, member_id: int, limit: int, cursor) -> pagination.Page:
    """The member's draws, newest first, with the lottery and the prize; three statements a page
    (the draws, their lotteries, their prizes), whatever the page holds."""
    page = pagination.page(
        session,
        select(LotteryDraw).where(
            LotteryDraw.member_id == member_id, LotteryDraw.outcome != "pending"
        ),
        LotteryDraw.id,
        limit,
        cursor,
    )
    lottery_ids = {d.lottery_id for d in page.items}
    prize_ids = {d.prize_id for d in page.items if d.prize_id is not None}
    lotteries = (
        {
            x.id: x
            for x in session.execute(select(Lottery).where(Lottery.id.in_(lottery_ids))).scalars()
        }
        if lottery_ids
        else {}
    )
    prizes = (
        {
            x.id: x
            for x in session.execute(
                select(LotteryPrize).where(LotteryPrize.id.in_(prize_ids))
            ).scalars()
        }
        if prize_ids
        else {}
    )
    items = []
    for d in page.items:
        prize = prizes.get(d.prize_id) if d.outcome == "won" else None
        if prize is not None and prize.kind == "none":  # the 谢谢参与 slot is no prize
            prize = None
        lottery = lotteries[d.lottery_id]
        items.append(
            {
                "draw_id": d.id,
                "lottery": {"id": lottery.id, "name": lottery.name},
                "prize": None
                if prize is None
                else {
                    "id": prize.id,
                    "name": prize.name,
                    "kind": prize.kind,
                    "points": d.points_won if prize.kind == "points" else None,
                    "coupon_id": d.coupon_id,
                },
                "status": draw_status(d, prize),
                "points_spent": d.points_spent,
                "created_at": d.created_at,
                "collected_at": d.fulfilled_at,
            }
        )
    return pagination.Page(items, page.next_cursor)
