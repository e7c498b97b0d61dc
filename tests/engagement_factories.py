"""Factories for coupon templates and lotteries (imported by the engagement test modules)."""

from __future__ import annotations

from datetime import timedelta

import pytest

# A lottery of only the no-prize slot has nothing to win (409 lottery.nothing_left, issue 16):
# tests about a draw's cost, limits and keys draw from one that practically always gives no
# prize.
NO_PRIZE = [
    {"name": "谢谢参与", "kind": "none", "weight": 10**9},
    {"name": "大奖", "kind": "physical", "weight": 1, "stock_total": 1},
]


@pytest.fixture
def make_template(session):
    from app.models.coupons import CouponTemplate

    def make(**fields) -> CouponTemplate:
        values = {
            "name": "满100减20",
            "kind": "threshold_off",
            "amount_off_fen": 2000,
            "threshold_fen": 10000,
            "validity_mode": "relative",
            "valid_days": 7,
            "stock_total": 100,
            "limit_per_member": 1,
            "audience": "all",
            "audience_tiers": [],
            "claimable": True,
        }
        values.update(fields)
        template = CouponTemplate(**values)
        session.add(template)
        session.commit()
        return template

    return make


@pytest.fixture
def make_lottery(session):
    from app import clock
    from app.models.lottery import Lottery, LotteryPrize

    def make(prizes: list[dict], **fields) -> Lottery:
        now = clock.now()
        values = {
            "name": "幸运大转盘",
            "cost_points": 10,
            "starts_at": now - timedelta(days=1),
            "ends_at": now + timedelta(days=30),
            "daily_draw_limit": 5,
        }
        values.update(fields)
        lottery = Lottery(**values)
        session.add(lottery)
        session.flush()
        for prize in prizes:
            session.add(LotteryPrize(lottery_id=lottery.id, **{"stock_total": 0, **prize}))
        session.commit()
        return lottery

    return make
