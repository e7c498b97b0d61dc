"""The points mall through the HTTP contract: exchanging, cancelling, collecting at a store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from tests.conftest import error_code, ledger_invariants

pytest_plugins = ["tests.engagement_factories", "tests.mall_factories"]


def _exchange(client, member_headers, member, item, **body):
    key = body.pop("key", None)
    headers = member_headers(member, **({"Idempotency-Key": key} if key else {}))
    return client.post(f"/api/v1/mall/items/{item.id}/exchanges", json=body, headers=headers)


def _state(session, item, member):
    """What a refused exchange must leave untouched: stock, the member's count and balance."""
    from app.models import Member
    from app.models.mall import MallExchange, MallHolding, MallItem

    session.expire_all()
    held = session.scalar(
        select(MallHolding.count).where(
            MallHolding.item_id == item.id, MallHolding.member_id == member.id
        )
    )
    return (
        session.get(MallItem, item.id).exchanged,
        held or 0,
        session.get(Member, member.id).points_balance,
        session.scalar(select(func.count(MallExchange.id))),
    )


def test_a_member_exchanges_goods_and_gets_a_pickup_code(
    client, session, make_member, member_headers, grant, make_item
):
    member = make_member()
    grant(member, 500)
    item = make_item(cost_points=120, stock_total=5, limit_per_member=3)

    listed = client.get("/api/v1/mall/items", headers=member_headers(member)).get_json()["items"]
    assert [(i["id"], i["stock_left"], i["exchanged_by_me"]) for i in listed] == [(item.id, 5, 0)]
    assert listed[0]["kind"] == "goods" and listed[0]["tiers"] is None
    assert listed[0]["image_url"] == "https://img.example.com/cup.png"

    response = _exchange(client, member_headers, member, item, quantity=2)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    exchange = body["exchange"]
    assert (exchange["quantity"], exchange["points_spent"], exchange["status"]) == (
        2,
        240,
        "awaiting_pickup",
    )
    assert body["balance"] == 260 == ledger_invariants(session, member.id)
    assert len(exchange["pickup_code"]) == 12 and exchange["coupons"] == []

    listed = client.get("/api/v1/mall/items", headers=member_headers(member)).get_json()["items"]
    assert (listed[0]["stock_left"], listed[0]["exchanged_by_me"]) == (3, 2)
    mine = client.get("/api/v1/me/exchanges", headers=member_headers(member)).get_json()
    assert [e["id"] for e in mine["items"]] == [exchange["id"]]
    assert mine["items"][0]["pickup_code"] == exchange["pickup_code"]


def test_pickup_codes_are_unique_and_unguessable(client, make_member, member_headers, grant):
    from app.services.mall import new_pickup_code

    codes = {new_pickup_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 12 and c.isalnum() and c.upper() == c for c in codes)


def test_a_coupon_item_issues_coupons_of_a_template_only_the_mall_gives(
    client, session, make_member, member_headers, grant, make_item, make_template
):
    member = make_member()
    grant(member, 1000)
    template = make_template(claimable=False, stock_total=50, limit_per_member=5)
    item = make_item(kind="coupon", coupon_template_id=template.id, cost_points=300)

    response = _exchange(client, member_headers, member, item)
    assert response.status_code == 201, response.get_json()
    exchange = response.get_json()["exchange"]
    assert exchange["status"] == "issued" and exchange["pickup_code"] is None
    assert len(exchange["coupons"]) == 1
    coupon = exchange["coupons"][0]
    assert coupon["source"] == "mall" and coupon["template"]["id"] == template.id
    mine = client.get("/api/v1/me/coupons", headers=member_headers(member)).get_json()["items"]
    assert [c["code"] for c in mine] == [coupon["code"]]

    # Not claimable: not listed in the mini-program, and a claim is refused.
    available = client.get("/api/v1/coupons/available", headers=member_headers(member))
    assert [t["id"] for t in available.get_json()["items"]] == []
    claim = client.post(f"/api/v1/coupons/{template.id}/claims", headers=member_headers(member))
    assert claim.status_code == 409 and error_code(claim) == "coupon.not_claimable"

    # Coupons from the mall are final.
    cancel = client.post(
        f"/api/v1/me/exchanges/{exchange['id']}/cancel", headers=member_headers(member)
    )
    assert cancel.status_code == 409 and error_code(cancel) == "exchange.not_cancellable"
    assert cancel.get_json()["error"]["details"] == {"status": "issued"}
    assert ledger_invariants(session, member.id) == 700


def test_a_coupon_item_whose_template_ran_out_is_out_of_stock_and_charges_nothing(
    client, session, make_member, member_headers, grant, make_item, make_template
):
    member = make_member()
    grant(member, 1000)
    template = make_template(claimable=False, stock_total=1, limit_per_member=5)
    item = make_item(
        kind="coupon", coupon_template_id=template.id, stock_total=10, limit_per_member=5
    )
    before = _state(session, item, member)
    response = _exchange(client, member_headers, member, item, quantity=2)
    assert response.status_code == 409 and error_code(response) == "mall.out_of_stock"
    assert _state(session, item, member) == before
    assert session.get(type(template), template.id).issued == 0


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("points", "points.insufficient"),
        ("stock", "mall.out_of_stock"),
        ("limit", "mall.limit_reached"),
        ("quantity_over_limit", "mall.limit_reached"),
    ],
)
def test_refusals_change_nothing(
    client, session, make_member, member_headers, grant, make_item, case, code
):
    member = make_member()
    grant(member, 150)
    limit = 5 if case == "points" else 1
    item = make_item(
        cost_points=100, stock_total=1 if case == "stock" else 5, limit_per_member=limit
    )
    if case == "stock":
        other = make_member()
        grant(other, 100)
        assert _exchange(client, member_headers, other, item).status_code == 201
    if case == "limit":
        assert _exchange(client, member_headers, member, item).status_code == 201
        grant(member, 1000)
    before = _state(session, item, member)
    quantity = 2 if case in ("points", "quantity_over_limit") else 1  # two cost 200 > 150
    response = _exchange(client, member_headers, member, item, quantity=quantity)
    assert response.status_code == 409, response.get_json()
    assert error_code(response) == code
    assert _state(session, item, member) == before
    ledger_invariants(session, member.id)


def test_items_off_offer_or_for_other_tiers_are_not_available(
    client, session, make_member, member_headers, grant, make_item
):
    member = make_member(tier_code="normal")
    grant(member, 1000)
    now = clock.now()
    items = [
        make_item(is_active=False),
        make_item(starts_at=now + timedelta(days=1)),
        make_item(ends_at=now - timedelta(seconds=1)),
        make_item(tiers=["gold"]),
    ]
    for item in items:
        response = _exchange(client, member_headers, member, item)
        assert response.status_code == 409 and error_code(response) == "mall.not_available"
    listed = client.get("/api/v1/mall/items", headers=member_headers(member)).get_json()["items"]
    assert [i["id"] for i in listed] == [items[3].id]  # on offer, marked for gold members
    assert listed[0]["tiers"] == ["gold"]
    gold = make_member(tier_code="gold")
    grant(gold, 1000)
    assert _exchange(client, member_headers, gold, items[3]).status_code == 201
    assert ledger_invariants(session, member.id) == 1000


def test_unknown_items_and_bad_quantities(client, make_member, member_headers, make_item):
    member = make_member()
    response = client.post(
        "/api/v1/mall/items/999999/exchanges", json={}, headers=member_headers(member)
    )
    assert response.status_code == 404
    item = make_item()
    for quantity in (0, -1, 101, "2", 1.5):
        response = _exchange(client, member_headers, member, item, quantity=quantity)
        assert response.status_code == 422, quantity
    no_body = client.post(f"/api/v1/mall/items/{item.id}/exchanges", headers=member_headers(member))
    assert no_body.status_code in (409, 422)  # never a 500: no points (409) or a body is wanted


def test_an_exchange_with_an_idempotency_key_happens_once(
    client, session, make_member, member_headers, grant, make_item
):
    from app.models.mall import MallExchange

    member = make_member()
    grant(member, 1000)
    item = make_item(limit_per_member=5)
    first = _exchange(client, member_headers, member, item, key="tap-1")
    again = _exchange(client, member_headers, member, item, key="tap-1")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert session.scalar(select(func.count(MallExchange.id))) == 1
    assert ledger_invariants(session, member.id) == 900


def test_cancelling_goods_returns_points_stock_and_the_limit_once(
    client, session, make_member, member_headers, grant, make_item
):
    from app.models.points import PointEntry

    member = make_member()
    grant(member, 300)
    item = make_item(cost_points=100, stock_total=3, limit_per_member=1)
    exchange = _exchange(client, member_headers, member, item).get_json()["exchange"]
    url = f"/api/v1/me/exchanges/{exchange['id']}/cancel"

    other = make_member()
    foreign = client.post(url, headers=member_headers(other))
    assert foreign.status_code == 404 and error_code(foreign) == "exchange.unknown"

    cancelled = client.post(url, headers=member_headers(member))
    assert cancelled.status_code == 200, cancelled.get_json()
    body = cancelled.get_json()
    assert body["exchange"]["status"] == "cancelled" and body["exchange"]["cancelled_at"]
    assert body["balance"] == 300 == ledger_invariants(session, member.id)
    again = client.post(url, headers=member_headers(member))
    assert again.status_code == 409 and error_code(again) == "exchange.not_cancellable"
    assert ledger_invariants(session, member.id) == 300
    refunds = session.scalars(select(PointEntry).where(PointEntry.reason == "mall_cancel")).all()
    assert [(e.delta, e.ref) for e in refunds] == [(100, f"mall-cancel:{exchange['id']}")]

    # The stock and the member's limit came back: the same member exchanges it again.
    listed = client.get("/api/v1/mall/items", headers=member_headers(member)).get_json()["items"]
    assert (listed[0]["stock_left"], listed[0]["exchanged_by_me"]) == (3, 0)
    assert _exchange(client, member_headers, member, item).status_code == 201
    unknown = client.post("/api/v1/me/exchanges/999999/cancel", headers=member_headers(member))
    assert unknown.status_code == 404 and error_code(unknown) == "exchange.unknown"


def test_a_clerk_collects_goods_once_at_any_store_and_it_is_audited(
    client, session, make_member, member_headers, grant, make_item, make_staff, staff_headers
):
    from app.models import AuditEntry

    member = make_member()
    grant(member, 500)
    item = make_item(limit_per_member=2)
    exchange = _exchange(client, member_headers, member, item).get_json()["exchange"]
    clerk = make_staff("clerk")
    url = "/staff/v1/exchanges/collect"
    # As a clerk types it: lower case, in groups.
    typed = "-".join(exchange["pickup_code"][i : i + 4] for i in (0, 4, 8)).lower()
    collected = client.post(url, json={"pickup_code": typed}, headers=staff_headers(clerk))
    assert collected.status_code == 200, collected.get_json()
    body = collected.get_json()
    assert body["status"] == "collected" and body["collected_store_id"] == clerk.store_id
    assert body["id"] == exchange["id"] and body["collected_at"]

    twice = client.post(
        url, json={"pickup_code": exchange["pickup_code"]}, headers=staff_headers(make_staff())
    )
    assert twice.status_code == 409 and error_code(twice) == "exchange.already_collected"
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "mall.collect")).all()
    assert [(a.staff_id, a.store_id, a.target_id) for a in audit] == [
        (clerk.id, clerk.store_id, str(exchange["id"]))
    ]

    cancel = client.post(
        f"/api/v1/me/exchanges/{exchange['id']}/cancel", headers=member_headers(member)
    )
    assert cancel.status_code == 409 and error_code(cancel) == "exchange.not_cancellable"
    mine = client.get("/api/v1/me/exchanges", headers=member_headers(member)).get_json()
    assert mine["items"][0]["status"] == "collected"

    unknown = client.post(url, json={"pickup_code": "ZZZZZZZZZZZZ"}, headers=staff_headers(clerk))
    assert unknown.status_code == 404 and error_code(unknown) == "exchange.unknown"
    second = _exchange(client, member_headers, member, item).get_json()["exchange"]
    client.post(f"/api/v1/me/exchanges/{second['id']}/cancel", headers=member_headers(member))
    gone = client.post(
        url, json={"pickup_code": second["pickup_code"]}, headers=staff_headers(clerk)
    )
    assert gone.status_code == 404 and error_code(gone) == "exchange.unknown"
    marketer = client.post(
        url,
        json={"pickup_code": second["pickup_code"]},
        headers=staff_headers(make_staff("marketer")),
    )
    assert marketer.status_code == 403 and error_code(marketer) == "staff.store_required"
    assert client.post(url, json={"pickup_code": "x"}).status_code == 401


def test_my_exchanges_are_newest_first_a_page_at_a_time(
    client, make_member, member_headers, grant, make_item
):
    member = make_member()
    grant(member, 10_000)
    item = make_item(cost_points=10, limit_per_member=10, stock_total=10)
    made = [
        _exchange(client, member_headers, member, item).get_json()["exchange"]["id"]
        for _ in range(5)
    ]
    first = client.get("/api/v1/me/exchanges?limit=3", headers=member_headers(member)).get_json()
    assert [e["id"] for e in first["items"]] == made[::-1][:3]
    rest = client.get(
        f"/api/v1/me/exchanges?limit=3&cursor={first['next_cursor']}",
        headers=member_headers(member),
    ).get_json()
    assert [e["id"] for e in rest["items"]] == made[::-1][3:] and rest["next_cursor"] is None
    other = make_member()
    assert (
        client.get("/api/v1/me/exchanges", headers=member_headers(other)).get_json()["items"] == []
    )


def test_the_till_shows_goods_and_lottery_prizes_awaiting_pickup_after_a_scan(
    client,
    session,
    make_member,
    member_headers,
    grant,
    make_item,
    make_staff,
    staff_headers,
    make_lottery,
):
    from app.models.lottery import LotteryDraw

    member = make_member()
    grant(member, 500)
    item = make_item(name="帆布袋")
    exchange = _exchange(client, member_headers, member, item).get_json()["exchange"]
    lottery = make_lottery([{"name": "耳机", "kind": "physical", "weight": 1, "stock_total": 5}])
    prize = lottery.prizes[0]
    draw = LotteryDraw(
        lottery_id=lottery.id, member_id=member.id, day=clock.business_date(clock.now()),
        points_spent=0, picked_prize_id=prize.id, prize_id=prize.id, outcome="won",
    )  # fmt: skip
    session.add(draw)
    session.commit()

    clerk = make_staff("clerk")

    def scan():
        code = client.get("/api/v1/me/member-code", headers=member_headers(member)).get_json()
        clock.freeze(clock.now() + timedelta(seconds=31))  # the next code
        response = client.post(
            "/staff/v1/scans", json={"member_code": code["code"]}, headers=staff_headers(clerk)
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    scanned = scan()
    pickups = scanned["member"]["pickups"]
    assert [(p["kind"], p["name"], p["pickup_code"], p["draw_id"]) for p in pickups] == [
        ("goods", "帆布袋", exchange["pickup_code"], None),
        ("lottery_prize", "耳机", None, draw.id),
    ]
    assert all(p["since"] for p in pickups)
    client.post(
        "/staff/v1/exchanges/collect",
        json={"pickup_code": exchange["pickup_code"]},
        headers=staff_headers(clerk),
    )
    handed = client.post(
        f"/staff/v1/lottery-wins/{draw.id}/fulfilment",
        json={"scan_id": scanned["scan_id"]},
        headers=staff_headers(clerk),
    )
    assert handed.status_code == 201, handed.get_json()
    assert scan()["member"]["pickups"] == []


def test_marketers_manage_items(client, session, make_staff, staff_headers, make_template):
    marketer = staff_headers(make_staff("marketer"))
    url = "/staff/v1/admin/mall-items"
    goods = {"name": "保温杯", "kind": "goods", "cost_points": 800, "stock_total": 20,
             "limit_per_member": 2, "tiers": ["silver", "gold"],
             "image_url": "https://img.example.com/cup.png"}  # fmt: skip
    created = client.post(url, json=goods, headers=marketer)
    assert created.status_code == 201, created.get_json()
    item = created.get_json()
    assert (item["exchanged"], item["stock_left"], item["tiers"]) == (0, 20, ["silver", "gold"])

    bad = [
        {**goods, "kind": "coupon"},  # no template
        {**goods, "kind": "coupon", "coupon_template_id": 999999},
        {**goods, "coupon_template_id": make_template().id},  # goods with a template
        {**goods, "tiers": ["platinum"]},
        {**goods, "cost_points": 0},
        {**goods, "stock_total": -1},
        {**goods, "kind": "service"},
        {**goods, "image_url": "javascript:alert(1)"},
        {**goods, "starts_at": "2027-01-02T00:00:00+08:00", "ends_at": "2027-01-01T00:00:00+08:00"},
    ]
    for body in bad:
        response = client.post(url, json=body, headers=marketer)
        assert response.status_code == 422, (body, response.get_json())
    template = make_template(claimable=False)
    coupon = client.post(
        url,
        json={
            "name": "10元券",
            "kind": "coupon",
            "coupon_template_id": template.id,
            "cost_points": 500,
            "stock_total": 100,
        },  # fmt: skip
        headers=marketer,
    )
    assert coupon.status_code == 201 and coupon.get_json()["tiers"] is None

    listed = client.get(url, headers=marketer).get_json()["items"]
    assert [i["id"] for i in listed] == [coupon.get_json()["id"], item["id"]]
    one = f"{url}/{item['id']}"
    assert client.get(one, headers=marketer).get_json()["name"] == "保温杯"
    assert client.get(f"{url}/999999", headers=marketer).status_code == 404
    patched = client.patch(one, json={"stock_total": 5, "cost_points": 900}, headers=marketer)
    assert patched.status_code == 200 and patched.get_json()["stock_total"] == 5
    assert client.patch(one, json={}, headers=marketer).status_code == 422
    stopped = client.delete(one, headers=marketer)
    assert stopped.status_code == 200 and stopped.get_json()["is_active"] is False
    clerk = staff_headers(make_staff("clerk"))
    assert client.get(url, headers=clerk).status_code == 403
    assert client.post(url, json=goods, headers=clerk).status_code == 403


def test_the_stock_cannot_go_below_what_was_exchanged(
    client, make_member, member_headers, grant, make_item, make_staff, staff_headers
):
    member = make_member()
    grant(member, 1000)
    item = make_item(stock_total=5, limit_per_member=3)
    assert _exchange(client, member_headers, member, item, quantity=3).status_code == 201
    marketer = staff_headers(make_staff("marketer"))
    one = f"/staff/v1/admin/mall-items/{item.id}"
    below = client.patch(one, json={"stock_total": 2, "name": "新名字"}, headers=marketer)
    assert below.status_code == 409 and error_code(below) == "mall.stock_below_exchanged"
    assert below.get_json()["error"]["details"] == {"exchanged": 3}
    after = client.get(one, headers=marketer).get_json()
    assert (after["stock_total"], after["name"]) == (5, "保温杯")  # nothing changed
    exact = client.patch(one, json={"stock_total": 3}, headers=marketer)
    assert exact.status_code == 200 and exact.get_json()["stock_left"] == 0
    sold_out = _exchange(client, member_headers, make_member(), item)
    assert sold_out.status_code == 409 and error_code(sold_out) == "mall.out_of_stock"
