"""The lottery tells the truth (issue 16): a prize that is gone leaves the odds and shows as
gone, a lottery with nothing left to win says so before it charges, and no draw charges points
for a prize it then cannot give."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.concurrency import bulk_members, fire, member_auth
from tests.conftest import ledger_invariants
from tests.test_coupons_statements import counting

pytest_plugins = ["tests.engagement_factories"]


def test_a_draw_costs_what_it_did_in_statements(
    app, client, session, make_member, member_headers, grant, make_lottery
):
    member = make_member()
    grant(member, 1000)
    lottery = make_lottery(
        [
            {"name": "无", "kind": "none", "weight": 1},
            {"name": "杯子", "kind": "physical", "weight": 1, "stock_total": 1000},
        ],
        daily_draw_limit=10,
    )
    url = f"/api/v1/lotteries/{lottery.id}/draws"
    headers = member_headers(member)
    client.post(url, headers=headers)  # warm
    counts = set()
    for _ in range(6):
        with counting(app) as sent:
            assert client.post(url, headers=headers).status_code == 201
        counts.add(len(sent))
    # The member's check, the opening statement, the spend (lock and expire, then rules.TAKE:
    # entry, balance and lots in one), and the prize taken with the draw recorded.
    assert counts == {6}, counts


def test_24_draws_at_once_on_a_selling_out_prize_never_charge_for_nothing(
    live_server, session, make_lottery
):
    """Before issue 16, 9 of 24 draws after a sell-out came back out_of_stock and were charged.
    Now a prize that goes while a draw runs is drawn again among what is left, and a lottery
    with nothing left refuses before (or instead of) charging."""
    from app.models.lottery import LotteryDraw
    from app.models.points import PointEntry

    members = bulk_members(session, 24, points=100)
    lottery = make_lottery(
        [{"name": "耳机", "kind": "physical", "weight": 1, "stock_total": 5}],
        cost_points=10,
        daily_draw_limit=5,
    )
    url = f"{live_server}/api/v1/lotteries/{lottery.id}/draws"
    auth = {m: member_auth(m) for m in members}
    session.commit()
    responses = fire([lambda s, m=m: s.post(url, headers=auth[m]) for m in members], clients=24)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 5 + [409] * 19
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "lottery.nothing_left"
    }
    assert all(r.json()["prize"]["name"] == "耳机" for r in responses if r.status_code == 201)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(LotteryDraw)) == 5
    charged = session.scalar(
        select(func.count()).select_from(PointEntry).where(PointEntry.reason == "lottery")
    )
    assert charged == 5
    for member in members:
        ledger_invariants(session, member)


def test_a_prize_that_went_leaves_the_odds_while_the_no_prize_slot_stays(
    live_server, session, make_lottery
):
    from app.models.lottery import LotteryDraw

    members = bulk_members(session, 24, points=100)
    lottery = make_lottery(
        [
            {"name": "无", "kind": "none", "weight": 1},
            {"name": "耳机", "kind": "physical", "weight": 1000, "stock_total": 3},
            {"name": "贴纸", "kind": "physical", "weight": 1000, "stock_total": 3},
        ],
        cost_points=10,
    )
    url = f"{live_server}/api/v1/lotteries/{lottery.id}/draws"
    auth = {m: member_auth(m) for m in members}
    session.commit()
    responses = fire([lambda s, m=m: s.post(url, headers=auth[m]) for m in members], clients=24)
    assert [r.status_code for r in responses].count(201) == 6 or all(
        r.status_code in (201, 409) for r in responses
    )
    won = [r.json()["prize"] for r in responses if r.status_code == 201 and r.json()["prize"]]
    assert len(won) == 6  # weight 2000 to 1: every prize goes before the no-prize slot matters
    session.expire_all()
    outcomes = set(session.scalars(select(LotteryDraw.outcome)))
    assert outcomes <= {"won", "no_prize"}  # never charged for a prize that was gone
    charged_draws = session.scalar(select(func.count()).select_from(LotteryDraw))
    assert charged_draws == sum(r.status_code == 201 for r in responses)
    for member in members:
        ledger_invariants(session, member)


def test_the_list_shows_what_is_gone(client, session, make_member, member_headers, make_lottery):
    from app.models.lottery import LotteryPrize

    member = make_member()
    lottery = make_lottery(
        [
            {"name": "无", "kind": "none", "weight": 1},
            {"name": "耳机", "kind": "physical", "weight": 1, "stock_total": 1},
            {"name": "杯子", "kind": "physical", "weight": 1, "stock_total": 5},
        ]
    )
    headphones = session.scalars(select(LotteryPrize).where(LotteryPrize.name == "耳机")).one()
    headphones.won = 1
    session.commit()
    listed = client.get("/api/v1/lotteries", headers=member_headers(member)).get_json()
    (shown,) = [item for item in listed["items"] if item["id"] == lottery.id]
    assert {p["name"]: p["available"] for p in shown["prizes"]} == {"耳机": False, "杯子": True}
    assert shown["nothing_left"] is False
    cups = session.scalars(select(LotteryPrize).where(LotteryPrize.name == "杯子")).one()
    cups.won = 5
    session.commit()
    listed = client.get("/api/v1/lotteries", headers=member_headers(member)).get_json()
    (shown,) = [item for item in listed["items"] if item["id"] == lottery.id]
    assert shown["nothing_left"] is True


def test_a_zero_weight_lottery_cannot_be_published(client, make_staff, staff_headers):
    marketer = staff_headers(make_staff("marketer"))
    body = {
        "name": "空转盘",
        "cost_points": 10,
        "starts_at": "2026-01-01T00:00:00+08:00",
        "ends_at": "2027-12-31T00:00:00+08:00",
        "prizes": [
            {"name": "无", "kind": "none", "weight": 5},
            {"name": "杯子", "kind": "physical", "weight": 0, "stock_total": 5},
        ],
    }
    refused = client.post("/staff/v1/admin/lotteries", json=body, headers=marketer)
    assert refused.status_code == 422
    empty = client.post("/staff/v1/admin/lotteries", json={**body, "prizes": []}, headers=marketer)
    assert empty.status_code == 422
