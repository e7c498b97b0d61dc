"""What a member has: GET /api/v1/me/purchases and GET /api/v1/me/draws (paged, newest first,
only the member's own)."""

from __future__ import annotations

from datetime import datetime

from tests.conftest import error_code
from tests.engagement_factories import NO_PRIZE

pytest_plugins = ["tests.engagement_factories"]


def test_purchases_show_store_refunds_and_points_newest_first_and_only_mine(
    client, make_store, make_staff, make_member, member_headers, staff_headers, scan_for
):
    store = make_store(name="人民广场店")
    clerk = make_staff("clerk", store=store)
    member, other = make_member(store=store), make_member(store=store)
    for n, amount in enumerate([1000, 2500, 8800]):
        bought = client.post(
            "/staff/v1/purchases",
            json={"scan_id": scan_for(member, clerk), "order_no": f"H-{n}", "amount_fen": amount},
            headers=staff_headers(clerk),
        )
        assert bought.status_code == 201, bought.get_json()
    client.post(
        "/staff/v1/purchases",
        json={"scan_id": scan_for(other, clerk), "order_no": "X-1", "amount_fen": 500},
        headers=staff_headers(clerk),
    )
    refund = client.post(
        "/staff/v1/purchases/H-2/refunds",
        json={"refund_no": "R-1", "amount_fen": 4400},
        headers=staff_headers(clerk),
    )
    assert refund.status_code == 201, refund.get_json()

    first = client.get("/api/v1/me/purchases?limit=2", headers=member_headers(member))
    assert first.status_code == 200
    page = first.get_json()
    assert [p["order_no"] for p in page["items"]] == ["H-2", "H-1"]
    newest = page["items"][0]
    assert newest["store"] == {"id": store.id, "name": "人民广场店"}
    assert (newest["amount_fen"], newest["refunded_fen"]) == (8800, 4400)
    assert newest["points_awarded"] == 88 and newest["points_reversed"] == 44
    assert newest["points_redeemed"] == 0 and newest["lines"] == []
    assert datetime.fromisoformat(newest["paid_at"]).utcoffset() is not None
    rest = client.get(
        "/api/v1/me/purchases",
        query_string={"limit": 2, "cursor": page["next_cursor"]},
        headers=member_headers(member),
    ).get_json()
    assert [p["order_no"] for p in rest["items"]] == ["H-0"] and rest["next_cursor"] is None
    tampered = client.get(
        "/api/v1/me/purchases",
        query_string={"cursor": page["next_cursor"] + "x"},
        headers=member_headers(member),
    )
    assert tampered.status_code == 422 and error_code(tampered) == "request.invalid"
    assert client.get("/api/v1/me/purchases").status_code == 401


def test_draws_show_the_prize_and_whether_it_waits_at_the_till(
    client, make_member, make_staff, member_headers, staff_headers, grant, make_lottery, scan_for
):
    member = make_member()
    grant(member, 100)
    # A sure win of the one cup, then a draw that (practically) always gives nothing.
    cup_lottery = make_lottery(
        [{"name": "保温杯", "kind": "physical", "weight": 1, "stock_total": 1}], name="周末大转盘"
    )
    plain = make_lottery(NO_PRIZE, name="每日一抽")
    won = client.post(f"/api/v1/lotteries/{cup_lottery.id}/draws", headers=member_headers(member))
    assert won.status_code == 201 and won.get_json()["prize"]["name"] == "保温杯"
    lost = client.post(f"/api/v1/lotteries/{plain.id}/draws", headers=member_headers(member))
    assert lost.status_code == 201 and lost.get_json()["prize"] is None

    listed = client.get("/api/v1/me/draws", headers=member_headers(member)).get_json()["items"]
    assert [d["draw_id"] for d in listed] == [lost.get_json()["draw_id"], won.get_json()["draw_id"]]
    nothing, cup = listed
    assert nothing["lottery"] == {"id": plain.id, "name": "每日一抽"}
    assert nothing["prize"] is None and nothing["status"] == "no_prize"
    assert cup["lottery"] == {"id": cup_lottery.id, "name": "周末大转盘"}
    assert cup["prize"]["kind"] == "physical" and cup["status"] == "awaiting_pickup"
    assert cup["points_spent"] == 10 and cup["collected_at"] is None

    clerk = make_staff("clerk")
    handed = client.post(
        f"/staff/v1/lottery-wins/{cup['draw_id']}/fulfilment",
        json={"scan_id": scan_for(member, clerk)},
        headers=staff_headers(clerk),
    )
    assert handed.status_code == 201
    page = client.get("/api/v1/me/draws?limit=1", headers=member_headers(member)).get_json()
    second = client.get(
        "/api/v1/me/draws",
        query_string={"limit": 1, "cursor": page["next_cursor"]},
        headers=member_headers(member),
    ).get_json()
    assert second["items"][0]["status"] == "collected" and second["items"][0]["collected_at"]
    assert second["next_cursor"] is None
    assert client.get("/api/v1/me/draws", headers=member_headers(make_member())).get_json() == {
        "items": [],
        "next_cursor": None,
    }
