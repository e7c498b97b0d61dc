"""The lottery under real concurrent HTTP requests against PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.concurrency import bulk_members, fire, member_auth
from tests.conftest import ledger_invariants

pytest_plugins = ["tests.engagement_factories"]


def test_prize_with_stock_10_drawn_2000_times_at_once(live_server, session, make_lottery):
    from app.models.lottery import LotteryDraw, LotteryPrize
    from app.models.points import PointEntry

    members = bulk_members(session, 200, points=1000)
    lottery = make_lottery(
        [
            {"name": "无", "kind": "none", "weight": 1},
            {"name": "耳机", "kind": "physical", "weight": 1, "stock_total": 10},
            {"name": "5积分", "kind": "points", "points": 5, "weight": 1, "stock_total": 100_000},
        ],
        cost_points=10,
        daily_draw_limit=10,
    )
    auth = {m: member_auth(m) for m in members}
    url = f"{live_server}/api/v1/lotteries/{lottery.id}/draws"
    # Every member draws ten times, interleaved, all at once.
    calls = [lambda s, m=m: s.post(url, headers=auth[m]) for _ in range(10) for m in members]
    # Reading lottery.id began a transaction of the test's: end it, or on a loaded machine the
    # 2000 draws outlast the idle-in-transaction timeout and the check after them fails.
    session.commit()
    responses = fire(calls, clients=32)
    assert [r.status_code for r in responses] == [201] * 2000
    prizes = [r.json()["prize"] for r in responses]
    assert sum(1 for p in prizes if p and p["name"] == "耳机") == 10
    session.expire_all()
    headphones = session.execute(
        select(LotteryPrize).where(LotteryPrize.name == "耳机")
    ).scalar_one()
    assert headphones.won == 10
    assert session.scalar(select(func.count(LotteryDraw.id))) == 2000
    won = session.scalar(
        select(func.count(LotteryDraw.id)).where(LotteryDraw.prize_id == headphones.id)
    )
    assert won == 10
    # Every draw charged exactly once: one cost entry per draw, none without a draw.
    charges = session.execute(
        select(PointEntry.ref, PointEntry.delta).where(PointEntry.reason == "lottery")
    ).all()
    assert len(charges) == 2000 and {d for _, d in charges} == {-10}
    draw_ids = set(session.scalars(select(LotteryDraw.id)))
    assert {int(ref.split(":")[1]) for ref, _ in charges} == draw_ids
    points_won = {m: 0 for m in members}
    for draw in session.scalars(select(LotteryDraw)):
        points_won[draw.member_id] += draw.points_won
    for member_id in members:
        assert ledger_invariants(session, member_id) == 1000 - 100 + points_won[member_id]


def test_one_member_tapping_15_times_at_once_draws_exactly_the_daily_limit(
    live_server, session, make_lottery
):
    """The daily count, the lottery's window and the draw's id are one statement: the member's
    row for today is re-read under its lock by ON CONFLICT, so concurrent taps of one member
    draw exactly the limit, and only the draws made are paid."""
    from app.models.lottery import LotteryDraw, LotteryDrawAllowance

    (member,) = bulk_members(session, 1, points=1000)
    lottery = make_lottery(
        [
            {"name": "无", "kind": "none", "weight": 1},
            {"name": "5积分", "kind": "points", "points": 5, "weight": 1, "stock_total": 100},
        ],
        cost_points=10,
        daily_draw_limit=5,
    )
    url = f"{live_server}/api/v1/lotteries/{lottery.id}/draws"
    auth = member_auth(member)
    session.commit()  # no transaction of the test's idle while the taps run
    responses = fire([lambda s: s.post(url, headers=auth) for _ in range(15)], clients=15)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 5 + [429] * 10
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 429} == {
        "lottery.daily_limit"
    }
    session.expire_all()
    assert session.scalar(select(func.count(LotteryDraw.id))) == 5
    assert session.scalar(select(LotteryDrawAllowance.used)) == 5
    won = sum(
        r.json()["prize"]["points"] for r in responses if r.status_code == 201 and r.json()["prize"]
    )
    assert ledger_invariants(session, member) == 1000 - 5 * 10 + won
