"""GET /staff/v1/admin/analytics/{gmv,cohorts,repurchase}: exact figures on planted data, in the
business time zone (Asia/Shanghai, UTC+8), orders refunded in full left out, store filters."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from app import clock
from app.models import Purchase
from tests.analytics import business
from tests.conftest import error_code

SHANGHAI = timedelta(hours=8)
_orders = itertools.count(1)


def at(day: str, hour: int = 12) -> datetime:
    """Noon (or `hour`) of a Shanghai business day, as a UTC instant."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC) - SHANGHAI


def buy(session, member, store, paid_at, amount, refunded=0):
    session.add(
        Purchase(
            store_id=store.id,
            order_no=f"a{next(_orders)}",
            member_id=member.id,
            amount_fen=amount,
            refunded_fen=refunded,
            paid_at=paid_at,
        )
    )


@pytest.fixture
def marketer(make_staff, staff_headers):
    return staff_headers(make_staff("marketer"))


def test_gmv_splits_new_and_existing_members_and_the_drivers_add_up(
    client, session, make_store, make_member, marketer
):
    clock.freeze(at("2026-06-10"))
    store, other = make_store(), make_store()
    old = [make_member(store, joined_at=at("2025-03-01")) for _ in range(2)]
    april = [make_member(store, joined_at=at("2026-04-0" + str(d))) for d in range(1, 5)]
    # 00:30 on 1 May in Shanghai is still 30 April in UTC: a May sign-up.
    may = [make_member(store, joined_at=at("2026-05-01", hour=0) + timedelta(minutes=30))]
    may += [make_member(store, joined_at=at("2026-05-2" + str(d))) for d in range(4)]
    # April: two of four new members buy (3 orders, 3,000); two existing members (3 orders, 9,000).
    buy(session, april[0], store, at("2026-04-10"), 1_000)
    buy(session, april[1], store, at("2026-04-11"), 500)
    buy(session, april[1], store, at("2026-04-12"), 1_500)
    buy(session, old[0], store, at("2026-04-03"), 2_000)
    buy(session, old[0], store, at("2026-04-04"), 4_000)
    buy(session, old[1], store, at("2026-04-05"), 3_000)
    # May: one new buyer (2,000); a new member's order refunded in full does not count.
    buy(session, may[0], store, at("2026-05-02"), 2_000)
    buy(session, may[1], store, at("2026-05-22"), 9_900, refunded=9_900)
    # Existing in May: old[0] 5,000 less 1,000 refunded; old[1] twice 1,000; an April joiner 3,000.
    buy(session, old[0], store, at("2026-05-05"), 5_000, refunded=1_000)
    buy(session, old[1], store, at("2026-05-06"), 1_000)
    buy(session, old[1], store, at("2026-05-07"), 1_000)
    buy(session, april[0], store, at("2026-05-08"), 3_000)
    buy(session, old[1], other, at("2026-05-09"), 7_000)  # another store
    buy(session, old[1], store, at("2026-06-01", hour=0) + timedelta(minutes=30), 8_000)  # June
    session.commit()

    body = client.get("/staff/v1/admin/analytics/gmv?month=2026-05", headers=marketer)
    assert body.status_code == 200, body.get_json()
    body = body.get_json()
    assert body["new_members"] == {
        "gmv_fen": 2_000,
        "signups": 5,
        "buyers": 1,
        "orders": 1,
        "first_purchase_rate": 0.2,
        "orders_per_buyer": 1.0,
        "avg_order_fen": 2_000,
    }
    assert body["existing_members"] == {
        "gmv_fen": 16_000,
        "active_members": 3,
        "orders": 5,
        "orders_per_buyer": round(5 / 3, 4),
        "avg_order_fen": 3_200,
    }
    assert body["gmv_fen"] == 18_000
    previous = body["previous_month"]
    assert previous["month"] == "2026-04" and previous["gmv_fen"] == 12_000
    assert previous["new_members"]["signups"] == 4
    assert previous["new_members"]["first_purchase_rate"] == 0.5
    assert previous["existing_members"]["active_members"] == 2
    assert body["gmv_change_fen"] == 6_000
    drivers = {(d["segment"], d["factor"]): d for d in body["drivers"]}
    assert abs(sum(d["change_fen"] for d in body["drivers"]) - 6_000) <= len(drivers)
    assert abs(sum(d["share"] for d in body["drivers"]) - 1) < 0.01
    new = {f: drivers[("new_members", f)]["change_fen"] for f in ("signups", "first_purchase_rate")}
    assert new["signups"] > 0 > new["first_purchase_rate"]  # more sign-ups, fewer converted
    assert drivers[("existing_members", "active_members")]["change_fen"] > 0
    assert (
        drivers[("new_members", "signups")]["previous"],
        drivers[("new_members", "signups")]["current"],
    ) == (4, 5)

    at_other = client.get(
        f"/staff/v1/admin/analytics/gmv?month=2026-05&store_id={other.id}", headers=marketer
    ).get_json()
    assert at_other["gmv_fen"] == 7_000
    assert at_other["new_members"]["signups"] == 0
    assert at_other["existing_members"]["active_members"] == 1


def test_a_segment_with_no_gmv_gives_its_change_to_the_factor_that_was_zero(
    client, session, make_store, make_member, marketer
):
    clock.freeze(at("2026-06-10"))
    store = make_store()
    make_member(store, joined_at=at("2026-04-02"))  # April: a sign-up who never bought
    newcomer = make_member(store, joined_at=at("2026-05-02"))
    buy(session, newcomer, store, at("2026-05-03"), 4_000)
    session.commit()
    body = client.get("/staff/v1/admin/analytics/gmv?month=2026-05", headers=marketer).get_json()
    parts = {d["factor"]: d["change_fen"] for d in body["drivers"] if d["segment"] == "new_members"}
    assert parts == {
        "signups": 0,
        "first_purchase_rate": 4_000,
        "orders_per_buyer": 0,
        "avg_order_fen": 0,
    }


def test_cohorts_share_of_each_join_month_buying_in_each_month_since(
    client, session, make_store, make_member, marketer
):
    clock.freeze(at("2026-04-15"))
    store, other = make_store(), make_store()
    jan = [make_member(store, joined_at=at("2026-01-1" + str(d))) for d in range(3)]
    feb = [make_member(store, joined_at=at("2026-02-10")) for _ in range(2)]
    make_member(other, joined_at=at("2026-01-20"))
    buy(session, jan[0], store, at("2026-01-12"), 100)
    buy(session, jan[0], store, at("2026-01-20"), 100)  # twice in month 0: counted once
    buy(session, jan[0], other, at("2026-02-01"), 100)  # anywhere in the chain
    buy(session, jan[0], store, at("2026-04-01"), 100)
    buy(session, jan[1], store, at("2026-02-28", hour=23) + timedelta(minutes=30), 100)  # still Feb
    buy(session, feb[0], store, at("2026-02-11"), 100)
    buy(session, feb[1], store, at("2026-03-11"), 100, refunded=100)  # refunded in full
    buy(session, jan[2], store, at("2025-12-01"), 100)  # imported history before joining
    session.commit()

    body = client.get(
        f"/staff/v1/admin/analytics/cohorts?from=2026-01&to=2026-03&store_id={store.id}",
        headers=marketer,
    )
    assert body.status_code == 200, body.get_json()
    rows = body.get_json()["rows"]
    assert rows[0] == {
        "cohort": "2026-01",
        "members": 3,
        "buyers": [1, 2, 0, 1],
        "retention": [0.3333, 0.6667, 0.0, 0.3333],
    }
    assert rows[1] == {
        "cohort": "2026-02",
        "members": 2,
        "buyers": [1, 0, 0],
        "retention": [0.5, 0.0, 0.0],
    }
    assert rows[2] == {
        "cohort": "2026-03",
        "members": 0,
        "buyers": [0, 0],
        "retention": [None, None],
    }
    chain = client.get(
        "/staff/v1/admin/analytics/cohorts?from=2026-01&to=2026-01", headers=marketer
    ).get_json()
    assert chain["rows"][0]["members"] == 4


def test_the_second_purchase(client, session, make_store, make_member, marketer):
    clock.freeze(at("2026-06-30"))
    store, other = make_store(), make_store()
    day = clock.business_date(clock.now())

    def on(days_ago: int, hour: int = 12) -> datetime:
        return at((day - timedelta(days=days_ago)).isoformat(), hour)

    quick, slow, once, late, elsewhere = (make_member(store) for _ in range(5))
    buy(session, quick, store, on(150), 100)
    buy(session, quick, store, on(145), 100)  # 5 days later: came back within 90
    buy(session, slow, store, on(60, hour=9), 100)
    buy(session, slow, store, on(60, hour=20), 100)  # the same day: one visit
    buy(session, slow, store, on(20), 100)  # 40 days later; first purchase too recent for the rate
    buy(session, once, store, on(120), 100)
    buy(session, late, store, on(200), 100)
    buy(session, late, store, on(100), 100)  # 100 days later: not within 90
    buy(session, late, store, on(10), 100, refunded=100)
    buy(session, elsewhere, other, on(30), 100)
    session.commit()

    body = client.get(
        f"/staff/v1/admin/analytics/repurchase?store_id={store.id}", headers=marketer
    ).get_json()
    assert (body["buyers"], body["repeat_buyers"]) == (4, 3)
    assert body["median_days_to_second"] == 40
    buckets = {(b["from_day"], b["to_day"]): b["members"] for b in body["days_to_second_purchase"]}
    assert buckets[(1, 7)] == 1 and buckets[(31, 60)] == 1 and buckets[(91, 180)] == 1
    assert sum(buckets.values()) == 3
    assert body["first_purchases_90_days_ago"] == 3  # quick, once, late
    assert body["second_purchase_rate_90d"] == 0.3333
    assert body["one_time_buyer_share"] == 0.25
    chain = client.get("/staff/v1/admin/analytics/repurchase", headers=marketer).get_json()
    assert chain["buyers"] == 5 and chain["one_time_buyer_share"] == 0.4


@pytest.mark.parametrize(
    "query",
    [
        "gmv",
        "gmv?month=2026-13",
        "gmv?month=26-01",
        "gmv?month=2026-05&store_id=abc",
        "cohorts?from=2026-05&to=2026-01",
        "cohorts?from=2020-01&to=2026-01",
        "cohorts?from=2026-01",
        "baskets?from=2026-05-02&to=2026-05-01",
        "baskets?from=2026-05-01",
    ],
)
def test_bad_questions_are_422(client, marketer, query):
    response = client.get(f"/staff/v1/admin/analytics/{query}", headers=marketer)
    assert response.status_code == 422, response.get_json()
    assert error_code(response) == "request.invalid"


def test_an_unknown_store_is_404_and_clerks_and_managers_are_403(
    client, make_staff, staff_headers, marketer
):
    missing = client.get("/staff/v1/admin/analytics/repurchase?store_id=999999", headers=marketer)
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    for role in ("clerk", "manager"):
        refused = client.get(
            "/staff/v1/admin/analytics/gmv?month=2026-05", headers=staff_headers(make_staff(role))
        )
        assert refused.status_code == 403


def test_baskets_units_and_lines_per_order_and_categories(
    client, session, make_store, make_member, marketer
):
    clock.freeze(at("2026-06-10"))
    store, other = make_store(), make_store()
    member = make_member(store)

    def order(paid_at, lines, refunded=0, at_store=store):
        business.order(session, member, at_store, paid_at, lines, refunded)

    order(at("2026-05-02"), [("乳品", 2, 500), ("面包", 1, 800)])
    order(at("2026-05-03"), [("饮料", 3, 300)])
    order(at("2026-05-04"), [("乳品", 1, 500), ("饮料", 1, 300), ("零食", 2, 600)])
    order(at("2026-05-05"), [("零食", 9, 1_000)], refunded=9_000)  # refunded in full
    order(at("2026-05-06"), [("乳品", 5, 1_000)], at_store=other)
    order(at("2026-06-01", hour=0) + timedelta(minutes=10), [("乳品", 1, 100)])  # June
    buy(session, member, store, at("2026-05-07"), 4_000)  # an order sent without lines
    session.commit()

    url = f"/staff/v1/admin/analytics/baskets?from=2026-05-01&to=2026-05-31&store_id={store.id}"
    body = client.get(url, headers=marketer)
    assert body.status_code == 200, body.get_json()
    body = body.get_json()
    assert (body["orders"], body["orders_without_lines"]) == (3, 1)
    assert body["units_per_order"] == round(10 / 3, 4)  # 连带率: 3 + 3 + 4 units
    assert body["lines_per_order"] == 2.0
    assert body["avg_order_fen"] == round(4_700 / 3)
    assert body["categories"] == [
        {"category": "乳品", "orders": 2, "units": 3, "gmv_fen": 1_500},
        {"category": "零食", "orders": 1, "units": 2, "gmv_fen": 1_200},
        {"category": "饮料", "orders": 2, "units": 4, "gmv_fen": 1_200},
        {"category": "面包", "orders": 1, "units": 1, "gmv_fen": 800},
    ]
    dairy = client.get(url + "&category=乳品", headers=marketer).get_json()
    assert dairy["orders"] == 2 and dairy["units_per_order"] == 3.5  # milk and what goes with it
    chain = client.get(
        "/staff/v1/admin/analytics/baskets?from=2026-05-01&to=2026-05-31", headers=marketer
    ).get_json()
    assert chain["orders"] == 4
