"""What a member has to collect at a store: mall goods and physical lottery prizes.

The till shows these after a scan; mall goods are handed over with POST
/staff/v1/exchanges/collect (their pickup code), lottery prizes with POST
/staff/v1/lottery-wins/{draw_id}/fulfilment (the scan).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.lottery import LotteryDraw, LotteryPrize
from app.models.mall import MallExchange, MallItem

MAX_PICKUPS = 50


class Pickup(NamedTuple):
    """One thing waiting for the member at the counter (PickupSchema)."""

    kind: str  # goods (a mall exchange) | lottery_prize (a draw that won a physical prize)
    id: int  # the exchange's id, or the draw's
    name: str
    quantity: int
    pickup_code: str | None  # goods
    draw_id: int | None  # lottery prizes
    since: datetime


def awaiting_pickup(session: Session, member_id: int) -> list[Pickup]:
    """The member's goods not collected nor cancelled, and physical prizes won and not handed
    over, oldest first (at most MAX_PICKUPS of each)."""
    goods = session.execute(
        select(
            MallExchange.id,
            MallItem.name,
            MallExchange.quantity,
            MallExchange.pickup_code,
            MallExchange.created_at,
        )
        .join(MallItem, MallItem.id == MallExchange.item_id)
        .where(MallExchange.member_id == member_id, MallExchange.status == "awaiting_pickup")
        .order_by(MallExchange.id)
        .limit(MAX_PICKUPS)
    ).all()
    prizes = session.execute(
        select(LotteryDraw.id, LotteryPrize.name, LotteryDraw.created_at)
        .join(LotteryPrize, LotteryPrize.id == LotteryDraw.prize_id)
        .where(
            LotteryDraw.member_id == member_id,
            LotteryDraw.outcome == "won",
            LotteryPrize.kind == "physical",
            LotteryDraw.fulfilled_at.is_(None),
        )
        .order_by(LotteryDraw.id)
        .limit(MAX_PICKUPS)
    ).all()
    found = [Pickup("goods", i, name, q, code, None, since) for i, name, q, code, since in goods]
    found += [Pickup("lottery_prize", i, name, 1, None, i, since) for i, name, since in prizes]
    return sorted(found, key=lambda p: p.since)
