"""Object-level authorisation over every endpoint that names an object.

A member reaches only their own data; a clerk or manager reaches only their own store's
purchases, refunds, scans, redemptions and members; foreign ids are 404, exactly like unknown
ones. The last tests read /openapi.json so that a new endpoint with an id cannot slip past
without a case here.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import error_code, ledger_invariants

pytest_plugins = ["tests.engagement_factories"]

# Every staff path with an id, and where its object-level case lives. Admin paths are checked
# by role (clerks and managers are refused outright), the rest by store and by scan owner.
STORE_SCOPED = {
    "/staff/v1/purchases/{order_no}/refunds": "test_another_stores_order_cannot_be_refunded",
    "/staff/v1/members/{member_id}/points/adjustments": (
        "test_another_stores_member_cannot_be_adjusted"
    ),
    "/staff/v1/coupons/redemptions/{redemption_id}/reversal": (
        "test_another_stores_redemption_cannot_be_reversed"
    ),
    "/staff/v1/members/{member_id}": (
        "tests/api/test_account_closure.py::"
        "test_a_manager_closes_an_account_in_store_once_and_only_for_their_store"
    ),
    "/staff/v1/exchanges/collect": "pickup codes are collected at any store (tests/test_mall.py)",
    "/staff/v1/lottery-wins/{draw_id}/fulfilment": (
        "test_a_prize_is_handed_only_to_the_member_who_won_it"
    ),
    "/staff/v1/members/{member_id}/purchases": (
        "tests/staff/test_console_reads.py::"
        "test_a_members_purchases_for_staff_who_may_see_the_member"
    ),
    "/staff/v1/memberships/{order_no}/refund": "test_a_membership_refund_is_for_admins_only",
    "/staff/v1/scans/phone/{lookup_id}/confirm": (
        "test_a_phone_lookup_is_confirmed_only_by_the_clerk_who_started_it"
    ),
}
# Admin-area reads a manager may make, for their own store only.
MANAGER_ADMIN_READS = {
    ("GET", "/staff/v1/admin/audit"): (
        "tests/staff/test_console_reads.py::"
        "test_the_audit_trail_filters_pages_and_keeps_managers_to_their_store"
    ),
}
# Member paths with an id name catalogue objects every member may use (a lottery, a coupon
# template), never another member's data.
MEMBER_CATALOGUE = {
    "/api/v1/lotteries/{lottery_id}/draws",
    "/api/v1/coupons/{template_id}/claims",
    "/api/v1/mall/items/{item_id}/exchanges",
    # the member's own exchange: another member's is 404 exchange.unknown
    # (tests/test_mall.py::test_cancelling_goods_returns_points_stock_and_the_limit_once)
    "/api/v1/me/exchanges/{exchange_id}/cancel",
}


@pytest.fixture
def two_stores(make_store, make_staff, make_member, grant):
    a, b = make_store(), make_store()
    world = {
        "store_a": a,
        "store_b": b,
        "clerk_a": make_staff("clerk", store=a),
        "manager_a": make_staff("manager", store=a),
        "clerk_b": make_staff("clerk", store=b),
        "manager_b": make_staff("manager", store=b),
        "member_a": make_member(store=a, phone="13800000001"),
        "member_b": make_member(store=b, phone="13800000002"),
    }
    grant(world["member_a"], 500)
    grant(world["member_b"], 500)
    return world


def _purchase(client, staff_headers, scan_for, member, clerk, order_no, amount=10_000):
    scan_id = scan_for(member, clerk)
    response = client.post(
        "/staff/v1/purchases",
        json={"scan_id": scan_id, "order_no": order_no, "amount_fen": amount},
        headers=staff_headers(clerk),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _balance(session, member) -> int:
    return ledger_invariants(session, member.id)


def test_another_stores_order_cannot_be_refunded(
    client, session, two_stores, staff_headers, scan_for
):
    w = two_stores
    _purchase(client, staff_headers, scan_for, w["member_a"], w["clerk_a"], "ORD-A")
    before = _balance(session, w["member_a"])
    for outsider in ("clerk_b", "manager_b"):
        response = client.post(
            "/staff/v1/purchases/ORD-A/refunds",
            json={"refund_no": f"R-{outsider}", "amount_fen": 10_000},
            headers=staff_headers(w[outsider]),
        )
        assert response.status_code == 404, response.get_json()
    assert _balance(session, w["member_a"]) == before
    own = client.post(
        "/staff/v1/purchases/ORD-A/refunds",
        json={"refund_no": "R-own", "amount_fen": 10_000},
        headers=staff_headers(w["manager_a"]),
    )
    assert own.status_code == 201, own.get_json()


def test_the_same_order_number_at_two_stores_is_two_orders(
    client, session, two_stores, staff_headers, scan_for
):
    w = two_stores
    _purchase(client, staff_headers, scan_for, w["member_a"], w["clerk_a"], "SAME-1")
    _purchase(client, staff_headers, scan_for, w["member_b"], w["clerk_b"], "SAME-1", 2_000)
    refund = client.post(
        "/staff/v1/purchases/SAME-1/refunds",
        json={"refund_no": "R-1", "amount_fen": 5_000},
        headers=staff_headers(w["clerk_b"]),
    )
    # Store B's order was 2,000 fen: refunding 5,000 of store A's order must not happen.
    assert refund.status_code == 422, refund.get_json()
    assert error_code(refund) == "refund.exceeds_purchase"


def test_another_stores_member_cannot_be_adjusted(client, session, two_stores, staff_headers):
    w = two_stores
    before = _balance(session, w["member_a"])
    url = f"/staff/v1/members/{w['member_a'].id}/points/adjustments"
    foreign = client.post(
        url, json={"delta": 1000, "reason": "gift"}, headers=staff_headers(w["manager_b"])
    )
    assert foreign.status_code == 404, foreign.get_json()
    taking = client.post(
        url, json={"delta": -100, "reason": "oops"}, headers=staff_headers(w["manager_b"])
    )
    assert taking.status_code == 404
    assert _balance(session, w["member_a"]) == before
    unknown = client.post(
        "/staff/v1/members/999999/points/adjustments",
        json={"delta": 10, "reason": "gift"},
        headers=staff_headers(w["manager_b"]),
    )
    assert unknown.status_code == 404
    assert error_code(foreign) == error_code(unknown), "a foreign id must look like an unknown one"
    own = client.post(
        url, json={"delta": 10, "reason": "gift"}, headers=staff_headers(w["manager_a"])
    )
    assert own.status_code == 201


def test_another_stores_members_are_not_found_by_lookup(client, two_stores, staff_headers):
    w = two_stores
    for key, value in (("phone", "13800000001"), ("member_no", w["member_a"].member_no)):
        foreign = client.get(
            "/staff/v1/members", query_string={key: value}, headers=staff_headers(w["manager_b"])
        )
        assert foreign.status_code == 200 and foreign.get_json()["items"] == []
        own = client.get(
            "/staff/v1/members", query_string={key: value}, headers=staff_headers(w["manager_a"])
        )
        assert [m["id"] for m in own.get_json()["items"]] == [w["member_a"].id]


def test_a_scan_belongs_to_the_clerk_who_made_it(
    client, session, two_stores, staff_headers, scan_for
):
    w = two_stores
    scan_id = scan_for(w["member_a"], w["clerk_a"])
    before = _balance(session, w["member_a"])
    for outsider in ("clerk_b", "manager_b", "manager_a"):
        stolen = client.post(
            "/staff/v1/purchases",
            json={"scan_id": scan_id, "order_no": f"X-{outsider}", "amount_fen": 50_000},
            headers=staff_headers(w[outsider]),
        )
        assert stolen.status_code == 404, (outsider, stolen.get_json())
    redemption = client.post(
        "/staff/v1/coupons/redemptions",
        json={"scan_id": scan_id, "coupon_id": 1, "order_no": "X-9", "order_amount_fen": 50_000},
        headers=staff_headers(w["clerk_b"]),
    )
    assert redemption.status_code == 404
    assert _balance(session, w["member_a"]) == before


def test_another_stores_redemption_cannot_be_reversed(
    client, session, two_stores, staff_headers, make_template
):
    from app.services.coupons import issue_coupon

    w = two_stores
    template = make_template()
    coupon = issue_coupon(session, template.id, w["member_a"].id, source="push", ref="t:authz")
    session.commit()
    redeemed = client.post(
        "/staff/v1/coupons/redemptions",
        json={"coupon_code": coupon.code, "order_no": "C-1", "order_amount_fen": 20_000},
        headers=staff_headers(w["clerk_a"]),
    )
    assert redeemed.status_code == 201, redeemed.get_json()
    rid = redeemed.get_json()["redemption"]["id"]
    url = f"/staff/v1/coupons/redemptions/{rid}/reversal"
    for outsider in ("clerk_b", "manager_b"):
        response = client.post(url, json={"reason": "x"}, headers=staff_headers(w[outsider]))
        assert response.status_code == 404, response.get_json()
    again = client.post(
        "/staff/v1/coupons/redemptions",
        json={"coupon_code": coupon.code, "order_no": "C-2", "order_amount_fen": 20_000},
        headers=staff_headers(w["clerk_a"]),
    )
    assert again.status_code == 409, "the coupon must still be used"


def test_a_prize_is_handed_only_to_the_member_who_won_it(
    client, two_stores, member_headers, staff_headers, scan_for, make_lottery
):
    w = two_stores
    lottery = make_lottery([{"name": "保温杯", "kind": "physical", "weight": 1, "stock_total": 5}])
    won = client.post(
        f"/api/v1/lotteries/{lottery.id}/draws", headers=member_headers(w["member_a"])
    ).get_json()
    assert won["prize"]["kind"] == "physical", won
    url = f"/staff/v1/lottery-wins/{won['draw_id']}/fulfilment"
    # Member B, scanned at store B, cannot collect member A's prize.
    scan_b = scan_for(w["member_b"], w["clerk_b"])
    refused = client.post(url, json={"scan_id": scan_b}, headers=staff_headers(w["clerk_b"]))
    assert refused.status_code == 404, refused.get_json()
    # A scan of member A made by another clerk is not this clerk's scan.
    scan_a = scan_for(w["member_a"], w["clerk_a"])
    stolen = client.post(url, json={"scan_id": scan_a}, headers=staff_headers(w["clerk_b"]))
    assert stolen.status_code == 404
    handed = client.post(url, json={"scan_id": scan_a}, headers=staff_headers(w["clerk_a"]))
    assert handed.status_code == 201, handed.get_json()


def test_a_phone_lookup_is_confirmed_only_by_the_clerk_who_started_it(
    client, session, two_stores, staff_headers
):
    w = two_stores
    started = client.post(
        "/staff/v1/scans/phone", json={"phone": "13800000001"}, headers=staff_headers(w["clerk_a"])
    )
    assert started.status_code == 201, started.get_json()
    url = f"/staff/v1/scans/phone/{started.get_json()['lookup_id']}/confirm"
    for outsider in ("clerk_b", "manager_b", "manager_a"):
        refused = client.post(url, json={"last_four": "0001"}, headers=staff_headers(w[outsider]))
        assert refused.status_code == 404, refused.get_json()
        assert refused.get_json()["error"]["code"] == "phone_lookup.unknown"
    own = client.post(url, json={"last_four": "0001"}, headers=staff_headers(w["clerk_a"]))
    assert own.status_code == 201 and own.get_json()["member"]["id"] == w["member_a"].id


def test_a_member_sees_only_their_own_entries_and_coupons(
    client, session, two_stores, member_headers, make_template
):
    from app.services.coupons import issue_coupon

    w = two_stores
    template = make_template()
    issue_coupon(session, template.id, w["member_b"].id, source="push", ref="t:b")
    session.commit()
    a = member_headers(w["member_a"])
    entries = client.get("/api/v1/me/points/entries", headers=a).get_json()["items"]
    assert {e["balance_after"] for e in entries} == {500} and len(entries) == 1
    assert client.get("/api/v1/me/coupons", headers=a).get_json()["items"] == []
    assert client.get("/api/v1/me", headers=a).get_json()["id"] == w["member_a"].id


# ---- systematic: every operation in the document ------------------------------------------


def _operations(client) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").get_json()
    return [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_staff_path_with_an_id_has_an_object_level_case(client):
    uncovered = [
        f"{method} {path}"
        for method, path in _operations(client)
        if path.startswith("/staff/v1/")
        and "{" in path
        and not path.startswith("/staff/v1/admin/")
        and path not in STORE_SCOPED
    ]
    assert not uncovered, f"add object-level cases for: {uncovered}"
    member_paths = [
        path for _, path in _operations(client) if path.startswith("/api/v1/") and "{" in path
    ]
    assert set(member_paths) <= MEMBER_CATALOGUE, (
        f"a member path names an object; check it cannot reach another member's: {member_paths}"
    )


def test_clerks_and_managers_are_refused_every_admin_operation(client, two_stores, staff_headers):
    w = two_stores
    for method, path in _operations(client):
        if not path.startswith("/staff/v1/admin/"):
            continue
        for role in ("clerk_a", "manager_a"):
            if role == "manager_a" and (method, path) in MANAGER_ADMIN_READS:
                continue
            response = client.open(
                _concrete(path), method=method, json={}, headers=staff_headers(w[role])
            )
            assert response.status_code == 403, (role, method, path, response.get_json())


def test_a_membership_refund_is_for_admins_only(client, two_stores, staff_headers, make_staff):
    """Clerks and managers of any store are refused a paid membership's refund (403, before
    the order is even looked up); admins reach it (an unknown order: 404)."""
    for role in ("clerk_a", "manager_a", "manager_b"):
        response = client.post(
            "/staff/v1/memberships/M123/refund",
            json={"reason": "asked"},
            headers=staff_headers(two_stores[role]),
        )
        assert response.status_code == 403, (role, response.get_json())
    admin = client.post(
        "/staff/v1/memberships/M123/refund",
        json={"reason": "asked"},
        headers=staff_headers(make_staff("admin")),
    )
    assert admin.status_code == 404, admin.get_json()


def test_tokens_work_only_on_their_side(client, two_stores, member_headers, staff_headers):
    w = two_stores
    member = member_headers(w["member_a"])
    staff = staff_headers(w["manager_a"])
    for method, path in _operations(client):
        if path.startswith("/staff/v1/") and not path.endswith("/auth/login"):
            response = client.open(_concrete(path), method=method, json={}, headers=member)
            assert response.status_code == 401, (method, path, response.get_json())
        elif path.startswith("/api/v1/") and not path.endswith("/auth/login"):
            response = client.open(_concrete(path), method=method, json={}, headers=staff)
            assert response.status_code == 401, (method, path, response.get_json())
