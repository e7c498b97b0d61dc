"""The reads the console's admin pages need: the audit trail, a member's purchases, an
audience's member ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app import clock
from tests.conftest import error_code

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, business day 2026-06-01


def adjust(client, staff_headers, staff, member, delta, reason="补录"):
    response = client.post(
        f"/staff/v1/members/{member.id}/points/adjustments",
        json={"delta": delta, "reason": reason},
        headers=staff_headers(staff),
    )
    assert response.status_code == 201, response.get_json()


def test_the_audit_trail_filters_pages_and_keeps_managers_to_their_store(
    client, make_staff, make_store, make_member, staff_headers
):
    clock.freeze(T0)
    north, south = make_store(name="北店"), make_store(name="南店")
    boss, other = make_staff("manager", store=north), make_staff("manager", store=south)
    admin = make_staff("admin")
    mine, theirs = make_member(store=north), make_member(store=south)
    for n in range(3):
        adjust(client, staff_headers, boss, mine, 10 + n)
    adjust(client, staff_headers, other, theirs, 5)
    clock.freeze(T0 + timedelta(days=1))
    client.post(
        "/staff/v1/admin/stores", json={"code": "E1", "name": "东店"}, headers=staff_headers(admin)
    )

    everything = client.get("/staff/v1/admin/audit", headers=staff_headers(admin)).get_json()
    assert [e["action"] for e in everything["items"]] == ["store.create"] + ["points.adjust"] * 4
    latest_adjustment = everything["items"][1]
    assert latest_adjustment["staff_username"] == other.username
    assert latest_adjustment["store_id"] == south.id
    assert latest_adjustment["details"] == {"delta": 5, "reason": "补录"}
    assert latest_adjustment["target_type"] == "member"
    assert latest_adjustment["target_id"] == str(theirs.id)

    # Filters: who, where, what, which business days; pages follow the cursor.
    query = {
        "staff_id": boss.id,
        "action": "points.adjust",
        "from": "2026-06-01",
        "to": "2026-06-01",
        "limit": 2,
    }
    first = client.get(
        "/staff/v1/admin/audit", query_string=query, headers=staff_headers(admin)
    ).get_json()
    assert [e["details"]["delta"] for e in first["items"]] == [12, 11]
    second = client.get(
        "/staff/v1/admin/audit",
        query_string={**query, "cursor": first["next_cursor"]},
        headers=staff_headers(admin),
    ).get_json()
    assert [e["details"]["delta"] for e in second["items"]] == [10]
    assert second["next_cursor"] is None
    next_day = client.get(
        "/staff/v1/admin/audit", query_string={"from": "2026-06-02"}, headers=staff_headers(admin)
    ).get_json()
    assert [e["action"] for e in next_day["items"]] == ["store.create"]
    by_store = client.get(
        "/staff/v1/admin/audit", query_string={"store_id": south.id}, headers=staff_headers(admin)
    ).get_json()
    assert [e["staff_id"] for e in by_store["items"]] == [other.id]

    # A manager reads their own store's entries only; naming another store is refused.
    own = client.get("/staff/v1/admin/audit", headers=staff_headers(boss)).get_json()
    assert {e["store_id"] for e in own["items"]} == {north.id} and len(own["items"]) == 3
    refused = client.get(
        "/staff/v1/admin/audit", query_string={"store_id": south.id}, headers=staff_headers(boss)
    )
    assert refused.status_code == 403 and error_code(refused) == "auth.forbidden"
    peek = client.get(
        "/staff/v1/admin/audit", query_string={"staff_id": other.id}, headers=staff_headers(boss)
    ).get_json()
    assert peek["items"] == []
    clerk = make_staff("clerk", store=north)
    assert client.get("/staff/v1/admin/audit", headers=staff_headers(clerk)).status_code == 403

    bad = client.get(
        "/staff/v1/admin/audit",
        query_string={"from": "2026-06-03", "to": "2026-06-01"},
        headers=staff_headers(admin),
    )
    assert bad.status_code == 422 and error_code(bad) == "request.invalid"
    forged = client.get(
        "/staff/v1/admin/audit", query_string={"cursor": "abc"}, headers=staff_headers(admin)
    )
    assert forged.status_code == 422


def test_a_members_purchases_for_staff_who_may_see_the_member(
    client, make_staff, make_store, make_member, staff_headers, scan_for
):
    clock.freeze(T0)
    north, south = make_store(), make_store()
    clerk, boss = make_staff("clerk", store=north), make_staff("manager", store=north)
    member = make_member(store=north)
    for n in range(2):
        response = client.post(
            "/staff/v1/purchases",
            json={
                "scan_id": scan_for(member, clerk),
                "order_no": f"P{n}",
                "amount_fen": 1000 * (n + 1),
            },
            headers=staff_headers(clerk),
        )
        assert response.status_code == 201, response.get_json()

    listed = client.get(f"/staff/v1/members/{member.id}/purchases", headers=staff_headers(boss))
    assert listed.status_code == 200
    assert [(p["order_no"], p["amount_fen"]) for p in listed.get_json()["items"]] == [
        ("P1", 2000),
        ("P0", 1000),
    ]
    elsewhere = make_staff("manager", store=south)
    refused = client.get(
        f"/staff/v1/members/{member.id}/purchases", headers=staff_headers(elsewhere)
    )
    assert refused.status_code == 404 and error_code(refused) == "member.not_found"
    assert (
        client.get(
            f"/staff/v1/members/{member.id}/purchases", headers=staff_headers(clerk)
        ).status_code
        == 403
    )
    admin = make_staff("admin")
    assert (
        client.get(
            f"/staff/v1/members/{member.id}/purchases", headers=staff_headers(admin)
        ).status_code
        == 200
    )


def test_an_audiences_member_ids_come_a_page_at_a_time(
    client, make_staff, make_store, make_member, staff_headers
):
    store = make_store()
    ids = sorted((make_member(store=store).id for _ in range(5)), reverse=True)
    make_member(store=None)
    marketer = make_staff("marketer")
    body = {"filter": {"store_ids": [store.id]}, "limit": 3}
    first = client.post(
        "/staff/v1/admin/audiences/members", json=body, headers=staff_headers(marketer)
    )
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["items"] == ids[:3]
    second = client.post(
        "/staff/v1/admin/audiences/members",
        json={**body, "cursor": first.get_json()["next_cursor"]},
        headers=staff_headers(marketer),
    ).get_json()
    assert second == {"items": ids[3:], "next_cursor": None}
    bad = client.post(
        "/staff/v1/admin/audiences/members",
        json={"filter": {"tiers": ["nope"]}},
        headers=staff_headers(marketer),
    )
    assert bad.status_code == 422
    manager = make_staff("manager", store=store)
    assert (
        client.post(
            "/staff/v1/admin/audiences/members", json=body, headers=staff_headers(manager)
        ).status_code
        == 403
    )
