"""The audience filter on what members buy: bought_categories, bought_skus (in the last N business
days) and likely_buyers_of (item-to-item lift), with exact figures on planted purchases; orders
and lines refunded in full never count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.errors import AppError
from app.services.messaging import audience_purchases, audiences, campaigns
from tests.conftest import error_code

NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


@pytest.fixture
def buy(make_lined_purchase):
    def plant(member, lines, paid_at=NOW - timedelta(days=30), refunded=False):
        return make_lined_purchase(member, paid_at, lines, refunded=refunded)

    return plant


def reached(session, people: dict, filter: dict) -> set[str]:
    ids = set(session.execute(audiences.member_ids_query(filter)).scalars())
    return {name for name, m in people.items() if m.id in ids}


@pytest.fixture
def shoppers(session, make_store, make_member, buy):
    """Nine buyers planted so that dairy goes with baby goods and drinks and bakery against."""
    clock.freeze(NOW)
    north, south = make_store(), make_store()
    people = {n: make_member(north if n in ("b1", "b2", "x5") else south) for n in
              ("b1", "b2", "b3", "b4", "x1", "x2", "x3", "x4", "x5", "x6")}  # fmt: skip
    milk, nappy = ("690001", "乳品", 650), ("700001", "母婴", 9900)
    beer, bread = ("800001", "酒水", 1200), ("900001", "烘焙", 800)
    for name in ("b1", "b2", "b3"):
        buy(people[name], [milk, nappy])
    buy(people["b4"], [nappy])
    buy(people["b4"], [beer])
    buy(people["x1"], [milk])
    buy(people["x1"], [milk, milk])  # two lines of one order: one order of dairy
    buy(people["x2"], [milk])
    buy(people["x2"], [beer])
    buy(people["x3"], [beer])
    buy(people["x4"], [bread])
    buy(people["x5"], [milk])
    buy(people["x5"], [nappy], refunded=True)  # refunded in full: not bought
    # x6 never bought; an order refunded in full changes nothing for anyone.
    buy(people["x6"], [bread], refunded=True)
    return people


def test_bought_categories_and_skus_leave_out_refunds(session, shoppers):
    cases = [
        ({"bought_categories": {"categories": ["母婴"]}}, {"b1", "b2", "b3", "b4"}),
        ({"bought_categories": {"categories": ["酒水", "烘焙"]}}, {"b4", "x2", "x3", "x4"}),
        ({"bought_skus": {"skus": ["690001"]}}, {"b1", "b2", "b3", "x1", "x2", "x5"}),
        ({"bought_skus": {"skus": ["nothing"]}}, set()),
        (
            {"bought_categories": {"categories": ["乳品"]}, "bought_skus": {"skus": ["800001"]}},
            {"x2"},
        ),
    ]
    for filter, expected in cases:
        assert reached(session, shoppers, filter) == expected, filter
        assert audiences.count(session, filter) == len(expected), filter


def test_a_line_refunded_in_full_is_not_bought(session, shoppers, buy):
    buy(shoppers["x6"], [("555", "玩具", 500, 500), ("556", "文具", 300, 100)])
    assert reached(session, shoppers, {"bought_categories": {"categories": ["玩具"]}}) == set()
    assert reached(session, shoppers, {"bought_categories": {"categories": ["文具"]}}) == {"x6"}


def test_within_days_counts_business_days_today_included(session, make_store, make_member, buy):
    clock.freeze(NOW)
    store = make_store()
    people = {n: make_member(store) for n in ("inside", "outside", "today", "future")}
    # 7 days back from 15 June (Shanghai) is 9 June 00:00 Shanghai = 8 June 16:00 UTC.
    buy(people["inside"], [("1", "乳品", 100)], datetime(2026, 6, 8, 16, 30, tzinfo=UTC))
    buy(people["outside"], [("1", "乳品", 100)], datetime(2026, 6, 8, 15, 30, tzinfo=UTC))
    buy(people["today"], [("1", "乳品", 100)], NOW - timedelta(hours=1))
    buy(people["future"], [("1", "乳品", 100)], NOW + timedelta(hours=1))  # not yet paid
    week = {"bought_categories": {"categories": ["乳品"], "within_days": 7}}
    assert reached(session, people, week) == {"inside", "today"}
    today = {"bought_skus": {"skus": ["1"], "within_days": 1}}
    assert reached(session, people, today) == {"today"}
    ever = {"bought_skus": {"skus": ["1"], "within_days": None}}
    assert reached(session, people, ever) == {"inside", "outside", "today"}


def test_likely_buyers_are_ranked_by_shrunk_lift(session, shoppers):
    """9 members bought something with a category, 4 of them baby goods (p = 4/9). Dairy: 6
    members, 3 with baby goods; drinks: 3, 1; bakery: 1, 0. With 20 pseudo-members at 4/9:
    lift(dairy) = (3 + 80/9) / (26·4/9) = 107/104, lift(drinks) = 89/92, lift(bakery) = 20/21.
    Scores: x1 2 orders of dairy: 2·3/104; x5 (its baby order refunded) 3/104; x2 3/104 − 3/92
    < 0 and x3, x4 below 0: left out, as are the buyers and x6 (bought nothing)."""
    ids = {m.id: name for name, m in shoppers.items()}
    scores = audience_purchases.scores_query("母婴")
    got = {ids[r.member_id]: r.score for r in session.execute(select(scores))}
    assert got == {"x1": pytest.approx(6 / 104), "x5": pytest.approx(3 / 104)}
    # Without shrinkage: lift(dairy) = (3/6)/(4/9) = 9/8, lift(drinks) = (1/3)/(4/9) = 3/4.
    raw = audience_purchases.scores_query("母婴", pseudo_members=0)
    got = {ids[r.member_id]: r.score for r in session.execute(select(raw))}
    assert got == {"x1": pytest.approx(2 / 8), "x5": pytest.approx(1 / 8)}

    def likely(top: int, **more) -> dict:
        return {"likely_buyers_of": {"category": "母婴", "top": top}, **more}

    assert reached(session, shoppers, likely(1)) == {"x1"}
    assert reached(session, shoppers, likely(100)) == {"x1", "x5"}
    assert audiences.count(session, likely(100)) == 2
    # The top among the members the other criteria select: the north store's likeliest.
    north = shoppers["b1"].store_id
    assert reached(session, shoppers, likely(1, store_ids=[north])) == {"x5"}
    # A category nobody bought yet: co-purchase says nothing, nobody is ranked.
    new = {"likely_buyers_of": {"category": "新品", "top": 10}}
    assert reached(session, shoppers, new) == set()
    # Nothing points to drinks (3 buyers of 9, p = 1/3): lift(dairy) = (1 + 20/3)/(26/3) =
    # 23/26, lift(baby) = 23/24, lift(bakery) = 20/21, all below 1: nobody is a likely buyer.
    drinks = {"likely_buyers_of": {"category": "酒水", "top": 10}}
    assert reached(session, shoppers, drinks) == set()


def test_likely_buyers_page_through_and_feed_a_campaign(session, shoppers, make_staff):
    filter = {"likely_buyers_of": {"category": "母婴", "top": 2}}
    first = audiences.member_ids_page(session, filter, 1, None)
    second = audiences.member_ids_page(session, filter, 1, first.next_cursor)
    assert {*first.items, *second.items} == {shoppers["x1"].id, shoppers["x5"].id}
    assert second.next_cursor is None
    # A campaign copies the audience with INSERT ... SELECT: the ranking goes along.
    campaign = campaigns.create(
        session, {"name": "nappies", "audience": filter, "send_at": NOW}, make_staff("marketer")
    )
    assert campaigns.enqueue(session, campaign, NOW)["targeted"] == 2


def test_bad_criteria_are_refused(session, shoppers):
    for bad in (
        {"bought_categories": {"categories": []}},
        {"bought_categories": {"within_days": 7}},
        {"bought_categories": {"categories": ["乳品"], "within_days": 0}},
        {"bought_skus": {"skus": ["x" * 65]}},
        {"bought_skus": {"skus": ["1"], "within_days": "7"}},
        {"likely_buyers_of": {"category": "母婴"}},
        {"likely_buyers_of": {"category": "母婴", "top": 0}},
        {"likely_buyers_of": {"category": "", "top": 5}},
        {"likely_buyers_of": {"category": "母婴", "top": 100_001}},
        {"likely_buyers_of": {"category": "母婴", "top": 5, "model": "magic"}},
    ):
        with pytest.raises(AppError) as caught:
            audiences.count(session, bad)
        assert caught.value.status == 422, bad


def test_preview_endpoint_takes_the_new_criteria(client, shoppers, make_staff, staff_headers):
    marketer = staff_headers(make_staff("marketer"))
    body = {"filter": {"likely_buyers_of": {"category": "母婴", "top": 10}}}
    answer = client.post("/staff/v1/admin/audiences/preview", json=body, headers=marketer)
    assert answer.status_code == 200 and answer.get_json() == {"count": 2}
    body = {"filter": {"bought_categories": {"categories": ["母婴"], "within_days": 90}}}
    answer = client.post("/staff/v1/admin/audiences/members", json=body, headers=marketer)
    assert answer.status_code == 200
    assert set(answer.get_json()["items"]) == {shoppers[n].id for n in ("b1", "b2", "b3", "b4")}
    bad = {"filter": {"likely_buyers_of": {"category": "母婴", "top": -1}}}
    refused = client.post("/staff/v1/admin/audiences/preview", json=bad, headers=marketer)
    assert refused.status_code == 422 and error_code(refused) == "request.invalid"
