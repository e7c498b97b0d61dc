"""The points lottery: cost, limits, stock, daily release, budget, prizes, fairness."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from scipy.stats import chisquare

from app import clock
from app.errors import AppError
from tests.conftest import error_code, ledger_invariants
from tests.engagement_factories import NO_PRIZE

pytest_plugins = ["tests.engagement_factories"]

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    clock.freeze(NOW)


def draw(client, member_headers, member, lottery, **headers):
    return client.post(
        f"/api/v1/lotteries/{lottery.id}/draws", headers=member_headers(member, **headers)
    )


def test_draw_charges_the_cost_once_and_records_the_draw(
    client, session, make_member, member_headers, grant, make_lottery
):
    from app.models.lottery import LotteryDraw
    from app.models.points import PointEntry

    member = make_member()
    grant(member, 100)
    lottery = make_lottery(NO_PRIZE, cost_points=30)
    response = draw(client, member_headers, member, lottery, **{"Idempotency-Key": "d1"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["prize"] is None and body["points_spent"] == 30 and body["balance"] == 70
    replay = draw(client, member_headers, member, lottery, **{"Idempotency-Key": "d1"})
    assert replay.get_json() == body
    assert session.query(LotteryDraw).count() == 1
    assert session.query(PointEntry).filter_by(reason="lottery").count() == 1
    assert ledger_invariants(session, member.id) == 70


def test_points_prize(client, session, make_member, member_headers, grant, make_lottery):
    member = make_member()
    grant(member, 100)
    lottery = make_lottery(
        [{"name": "50积分", "kind": "points", "points": 50, "weight": 1, "stock_total": 5}]
    )
    body = draw(client, member_headers, member, lottery).get_json()
    assert body["prize"]["kind"] == "points" and body["prize"]["points"] == 50
    assert body["balance"] == 140
    assert ledger_invariants(session, member.id) == 140


def test_coupon_and_physical_prizes(
    client,
    session,
    make_member,
    member_headers,
    grant,
    make_lottery,
    make_template,
    make_staff,
    staff_headers,
    scan_for,
):
    template = make_template(stock_total=10)
    member = make_member()
    grant(member, 100)
    coupon_lottery = make_lottery(
        [
            {
                "name": "满减券",
                "kind": "coupon",
                "coupon_template_id": template.id,
                "weight": 1,
                "stock_total": 3,
            }
        ]
    )
    won = draw(client, member_headers, member, coupon_lottery).get_json()
    assert won["prize"]["coupon"]["template"]["id"] == template.id
    mine = client.get("/api/v1/me/coupons", headers=member_headers(member)).get_json()
    assert [c["source"] for c in mine["items"]] == ["lottery"]
    gift_lottery = make_lottery(
        [{"name": "保温杯", "kind": "physical", "weight": 1, "stock_total": 1}]
    )
    cup = draw(client, member_headers, member, gift_lottery).get_json()
    assert cup["prize"]["name"] == "保温杯"
    clerk = make_staff("clerk")
    url = f"/staff/v1/lottery-wins/{cup['draw_id']}/fulfilment"
    scan_id = scan_for(member, clerk)
    handed = client.post(url, json={"scan_id": scan_id}, headers=staff_headers(clerk))
    assert handed.status_code == 201 and handed.get_json()["store_id"] == clerk.store_id
    again = client.post(url, json={"scan_id": scan_id}, headers=staff_headers(clerk))
    assert again.status_code == 409 and error_code(again) == "lottery.already_fulfilled"


def test_a_sold_out_last_prize_is_nothing_left_before_charging(
    client, session, make_member, member_headers, grant, make_lottery
):
    from app.models.lottery import LotteryDraw, LotteryPrize

    member = make_member()
    grant(member, 100)
    lottery = make_lottery(
        [{"name": "耳机", "kind": "physical", "weight": 1, "stock_total": 1}], daily_draw_limit=5
    )
    first = draw(client, member_headers, member, lottery).get_json()
    second = draw(client, member_headers, member, lottery)
    assert first["prize"]["name"] == "耳机"
    assert second.status_code == 409 and error_code(second) == "lottery.nothing_left"
    outcomes = [d.outcome for d in session.query(LotteryDraw).order_by(LotteryDraw.id)]
    assert outcomes == ["won"]
    assert session.query(LotteryPrize).one().won == 1
    assert ledger_invariants(session, member.id) == 90  # only the draw that won was paid


def test_daily_release_cap_spreads_a_prize_over_days(
    client, session, make_member, member_headers, grant, make_lottery
):
    member = make_member()
    grant(member, 1000)
    lottery = make_lottery(
        [{"name": "咖啡", "kind": "physical", "weight": 1, "stock_total": 10, "daily_cap": 2}],
        daily_draw_limit=10,
    )
    today = [draw(client, member_headers, member, lottery) for _ in range(4)]
    assert [r.status_code for r in today] == [201, 201, 409, 409]  # today's two are given
    assert error_code(today[-1]) == "lottery.nothing_left"
    clock.freeze(NOW + timedelta(days=1))
    tomorrow = draw(client, member_headers, member, lottery).get_json()
    assert tomorrow["prize"] is not None


def test_points_budget_stops_points_prizes(
    client, session, make_member, member_headers, grant, make_lottery
):
    from app.models.lottery import Lottery

    member = make_member()
    grant(member, 1000)
    lottery = make_lottery(
        [{"name": "100积分", "kind": "points", "points": 100, "weight": 1, "stock_total": 99}],
        points_budget=250,
        daily_draw_limit=10,
    )
    answers = [draw(client, member_headers, member, lottery) for _ in range(3)]
    assert [r.status_code for r in answers] == [201, 201, 409]  # 100 more would pass 250
    assert error_code(answers[-1]) == "lottery.nothing_left"
    assert session.get(Lottery, lottery.id).points_given == 200


def test_daily_limit_is_429_and_resets_next_business_day(
    client, session, make_member, member_headers, grant, make_lottery
):
    member = make_member()
    grant(member, 1000)
    lottery = make_lottery(NO_PRIZE, daily_draw_limit=2)
    assert draw(client, member_headers, member, lottery).status_code == 201
    assert draw(client, member_headers, member, lottery).status_code == 201
    third = draw(client, member_headers, member, lottery)
    assert third.status_code == 429 and error_code(third) == "lottery.daily_limit"
    assert int(third.headers["Retry-After"]) == 12 * 3600 + 1  # until midnight in Shanghai
    listed = client.get("/api/v1/lotteries", headers=member_headers(member)).get_json()
    assert listed["items"][0]["draws_left_today"] == 0
    assert ledger_invariants(session, member.id) == 980  # the refused draw cost nothing
    clock.freeze(NOW + timedelta(hours=12))  # 00:00 next day in Shanghai
    assert draw(client, member_headers, member, lottery).status_code == 201


def test_refusals_change_nothing(client, session, make_member, member_headers, grant, make_lottery):
    from app.models.lottery import LotteryDraw, LotteryDrawAllowance

    member = make_member()
    grant(member, 5)
    lottery = make_lottery(NO_PRIZE, cost_points=10)
    poor = draw(client, member_headers, member, lottery)
    assert poor.status_code == 409 and error_code(poor) == "points.insufficient"
    ended = make_lottery(NO_PRIZE, ends_at=NOW - timedelta(minutes=1))
    closed = draw(client, member_headers, member, ended)
    assert closed.status_code == 409 and error_code(closed) == "lottery.not_active"
    assert draw(client, member_headers, member, type("L", (), {"id": 999})()).status_code == 404
    empty = make_lottery([{"name": "无", "kind": "none", "weight": 0}])
    assert error_code(draw(client, member_headers, member, empty)) == "lottery.nothing_left"
    assert session.query(LotteryDraw).count() == 0
    assert session.query(LotteryDrawAllowance).filter(LotteryDrawAllowance.used > 0).count() == 0
    assert ledger_invariants(session, member.id) == 5


def test_list_hides_the_no_prize_slot_and_closed_lotteries(
    client, make_member, member_headers, make_lottery
):
    make_lottery(
        [
            {"name": "无", "kind": "none", "weight": 5},
            {"name": "20积分", "kind": "points", "points": 20, "weight": 1},
        ]
    )
    make_lottery([], starts_at=NOW + timedelta(days=1))
    listed = client.get("/api/v1/lotteries", headers=member_headers(make_member())).get_json()
    assert len(listed["items"]) == 1
    assert [p["kind"] for p in listed["items"][0]["prizes"]] == ["points"]


# ---- fairness ----------------------------------------------------------------------------

WEIGHTS = [500, 300, 150, 40, 9, 1]


def test_pick_slot_matches_the_weights_over_100000_draws():
    from app.services.lottery import pick_slot

    counts = Counter(pick_slot(WEIGHTS) for _ in range(100_000))
    observed = [counts[i] for i in range(len(WEIGHTS))]
    expected = [100_000 * w / sum(WEIGHTS) for w in WEIGHTS]
    assert chisquare(observed, expected).pvalue > 0.001


def test_pick_slot_edges():
    from app.services.lottery import pick_slot

    assert pick_slot([0, 0]) == -1
    assert {pick_slot([0, 3, 0]) for _ in range(50)} == {1}
    assert pick_slot([1, 1], randbelow=lambda n: n - 1) == 1


def test_transactional_draws_follow_the_weights(session, make_member, grant, make_lottery):
    """The full draw (allowance, cost, stock, prize) on a smaller count, ample stock."""
    from app.services import lottery as lottery_service

    members = [make_member() for _ in range(50)]
    for member in members:
        grant(member, 100)
    weights = [60, 30, 10]
    lottery = make_lottery(
        [
            {"name": "无", "kind": "none", "weight": weights[0]},
            {
                "name": "5积分",
                "kind": "points",
                "points": 5,
                "weight": weights[1],
                "stock_total": 10_000,
            },
            {"name": "贴纸", "kind": "physical", "weight": weights[2], "stock_total": 10_000},
        ],
        cost_points=1,
        daily_draw_limit=10,
    )
    names = Counter()
    for member in members:
        for _ in range(10):
            prize = lottery_service.draw(session, member.id, lottery.id)["prize"]
            names[prize["name"] if prize else "无"] += 1
    draws = 10 * len(members)
    observed = [names["无"], names["5积分"], names["贴纸"]]
    expected = [draws * w / sum(weights) for w in weights]
    assert chisquare(observed, expected).pvalue > 0.001
    total = sum(ledger_invariants(session, m.id) for m in members)
    assert total == 100 * len(members) - draws + 5 * names["5积分"]


# ---- admin -------------------------------------------------------------------------------


def test_admin_creates_a_lottery_with_prizes_and_edits_them(
    client, make_staff, staff_headers, make_template
):
    template = make_template()
    headers = staff_headers(make_staff("marketer"))
    body = {
        "name": "春季转盘",
        "cost_points": 20,
        "starts_at": "2026-03-01T00:00:00+08:00",
        "ends_at": "2026-04-01T00:00:00+08:00",
        "daily_draw_limit": 3,
        "points_budget": 10000,
        "prizes": [
            {"name": "谢谢参与", "kind": "none", "weight": 70},
            {"name": "88积分", "kind": "points", "points": 88, "weight": 20, "stock_total": 100},
            {
                "name": "满减券",
                "kind": "coupon",
                "coupon_template_id": template.id,
                "weight": 9,
                "stock_total": 50,
                "daily_cap": 5,
            },
            {"name": "电饭煲", "kind": "physical", "weight": 1, "stock_total": 2},
        ],
    }
    created = client.post("/staff/v1/admin/lotteries", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    lottery = created.get_json()
    assert [p["kind"] for p in lottery["prizes"]] == ["none", "points", "coupon", "physical"]
    assert set(lottery) == {
        "id",
        "name",
        "cost_points",
        "starts_at",
        "ends_at",
        "daily_draw_limit",
        "points_budget",
        "is_active",
        "points_given",
        "status",
        "created_at",
        "prizes",
    }
    assert lottery["prizes"][1] == {
        "id": lottery["prizes"][1]["id"],
        "name": "88积分",
        "kind": "points",
        "weight": 20,
        "points": 88,
        "coupon_template_id": None,
        "stock_total": 100,
        "won": 0,
        "daily_cap": None,
        "is_active": True,
        "stock_left": 100,
    }
    shown = client.get(f"/staff/v1/admin/lotteries/{lottery['id']}", headers=headers)
    assert shown.get_json() == lottery
    listed = client.get("/staff/v1/admin/lotteries", headers=headers).get_json()
    assert lottery in listed["items"]
    bad = client.post(
        "/staff/v1/admin/lotteries",
        json={**body, "prizes": [{"name": "x", "kind": "coupon", "weight": 1}]},
        headers=headers,
    )
    assert bad.status_code == 422
    base = f"/staff/v1/admin/lotteries/{lottery['id']}"
    prize_id = lottery["prizes"][3]["id"]
    edited = client.patch(
        f"{base}/prizes/{prize_id}", json={"stock_total": 5, "weight": 2}, headers=headers
    )
    assert edited.status_code == 200 and edited.get_json()["stock_left"] == 5
    closed = client.delete(base, headers=headers)
    assert closed.get_json()["is_active"] is False
    assert client.get("/staff/v1/admin/lotteries/999", headers=headers).status_code == 404


def test_a_budget_set_later_counts_what_was_already_given(
    session, make_member, grant, make_lottery, make_staff
):
    from app.services import lottery as lottery_service
    from app.services.lottery import lottery_admin

    member = make_member()
    grant(member, 1000)
    lottery = make_lottery(
        [{"name": "100积分", "kind": "points", "points": 100, "weight": 1, "stock_total": 99}],
        daily_draw_limit=10,
    )
    lottery_service.draw(session, member.id, lottery.id)
    lottery_service.draw(session, member.id, lottery.id)
    shown = lottery_admin.update_lottery(
        session, lottery.id, {"points_budget": 300}, make_staff("marketer")
    )
    assert shown.points_given == 200
    assert lottery_service.draw(session, member.id, lottery.id)["prize"] is not None
    with pytest.raises(AppError) as refused:  # 100 more would pass the budget of 300
        lottery_service.draw(session, member.id, lottery.id)
    assert refused.value.code == "lottery.nothing_left"


def test_a_lottery_with_nothing_to_win_cannot_be_published(
    client, session, make_staff, staff_headers
):
    """Published with no prize that can be won (none at all, only the no-prize slot, weight 0,
    switched off or out of stock), members paid to draw and could never win. 422, nothing
    saved; a draft (is_active false) may wait for its prizes, and opens once it has one. Issue
    14, item 10."""
    from app.models.lottery import Lottery

    headers = staff_headers(make_staff("marketer"))
    body = {
        "name": "空转盘",
        "cost_points": 20,
        "starts_at": "2026-03-01T00:00:00+08:00",
        "ends_at": "2026-04-01T00:00:00+08:00",
    }
    url = "/staff/v1/admin/lotteries"
    nothing_to_win = (
        [],
        [{"name": "谢谢参与", "kind": "none", "weight": 100}],
        [{"name": "电饭煲", "kind": "physical", "weight": 0, "stock_total": 2}],
        [{"name": "电饭煲", "kind": "physical", "weight": 1, "stock_total": 0}],
        [{"name": "电饭煲", "kind": "physical", "weight": 1, "stock_total": 2, "is_active": False}],
        [{"name": "电饭煲", "kind": "physical", "weight": 1, "stock_total": 2, "daily_cap": 0}],
    )
    for prizes in nothing_to_win:
        response = client.post(url, json={**body, "prizes": prizes}, headers=headers)
        assert response.status_code == 422, (prizes, response.get_json())
        assert error_code(response) == "request.invalid"
        assert "prizes" in response.get_json()["error"]["details"]
    assert session.query(Lottery).count() == 0
    draft = client.post(url, json={**body, "is_active": False}, headers=headers)
    assert draft.status_code == 201, draft.get_json()
    item = f"{url}/{draft.get_json()['id']}"
    opened = client.patch(item, json={"is_active": True}, headers=headers)
    assert opened.status_code == 422 and error_code(opened) == "request.invalid"
    assert client.get(item, headers=headers).get_json()["is_active"] is False
    prize = {"name": "88积分", "kind": "points", "points": 88, "weight": 1, "stock_total": 9}
    assert client.post(f"{item}/prizes", json=prize, headers=headers).status_code == 201
    opened = client.patch(item, json={"is_active": True}, headers=headers)
    assert opened.status_code == 200 and opened.get_json()["is_active"] is True
