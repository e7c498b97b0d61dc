"""The rotating member code and the till scan."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests

from app import clock
from tests.conftest import error_code

T0 = datetime(2026, 11, 25, 2, 0, 0, tzinfo=UTC)


def _code(client, headers) -> dict:
    response = client.get("/api/v1/me/member-code", headers=headers)
    assert response.status_code == 200
    return response.get_json()


def test_member_code_is_18_digits_stable_within_30s_then_changes(client, login):
    _, headers = login()
    clock.freeze(T0)
    first = _code(client, headers)
    assert len(first["code"]) == 18 and first["code"].isdigit()
    assert first["refresh_after"] == 30
    assert datetime.fromisoformat(first["expires_at"]) == T0 + timedelta(seconds=90)
    clock.freeze(T0 + timedelta(seconds=29))
    assert _code(client, headers)["code"] == first["code"]
    assert _code(client, headers)["refresh_after"] == 1
    clock.freeze(T0 + timedelta(seconds=30))
    assert _code(client, headers)["code"] != first["code"]


def test_two_members_get_different_codes(client, login):
    _, alice = login("alice")
    _, bob = login("bob")
    clock.freeze(T0)
    assert _code(client, alice)["code"] != _code(client, bob)["code"]


def test_scan_accepts_a_code_once(client, login, make_staff, staff_headers):
    body, headers = login()
    clock.freeze(T0)
    code = _code(client, headers)["code"]
    clerk = staff_headers(make_staff("clerk"))
    scanned = client.post("/staff/v1/scans", json={"member_code": code}, headers=clerk)
    assert scanned.status_code == 201
    result = scanned.get_json()
    assert result["member"]["id"] == body["member"]["id"]
    assert result["member"]["coupons"] == []
    assert datetime.fromisoformat(result["expires_at"]) == T0 + timedelta(minutes=10)
    assert set(result) == {"scan_id", "expires_at", "member", "redeem"}
    assert len(result["scan_id"]) == 32
    assert result["redeem"] is None  # the points program takes no points at the till by default
    assert result["member"] == {
        "id": body["member"]["id"],
        "member_no": body["member"]["member_no"],
        "nickname": body["member"]["nickname"],
        "phone_masked": None,
        "tier": body["member"]["tier"],
        "points_balance": 0,
        "coupons": [],
        "pickups": [],
        "paid_membership": None,  # not a paid member (issue 19)
    }
    again = client.post("/staff/v1/scans", json={"member_code": code}, headers=clerk)
    assert again.status_code == 409
    assert error_code(again) == "member_code.used"


def test_a_code_is_accepted_for_90_seconds_only(client, login, make_staff, staff_headers):
    _, headers = login()
    clerk = staff_headers(make_staff("clerk"))
    clock.freeze(T0)
    code = _code(client, headers)["code"]
    clock.freeze(T0 + timedelta(seconds=90))
    fresh_enough = client.post("/staff/v1/scans", json={"member_code": code}, headers=clerk)
    assert fresh_enough.status_code == 201
    clock.freeze(T0)
    clock.freeze(T0 + timedelta(seconds=300))
    code2 = None
    clock.freeze(T0 + timedelta(seconds=600))
    code2 = _code(client, headers)["code"]
    clock.freeze(T0 + timedelta(seconds=600 + 91))
    stale = client.post("/staff/v1/scans", json={"member_code": code2}, headers=clerk)
    assert stale.status_code == 410
    assert error_code(stale) == "member_code.expired"


def test_garbage_codes_are_404(client, make_staff, staff_headers):
    clerk = staff_headers(make_staff("clerk"))
    for code in ("660000000000000000", "12345", "abc", "66" + "1" * 16):
        response = client.post("/staff/v1/scans", json={"member_code": code}, headers=clerk)
        assert response.status_code == 404
        assert error_code(response) == "member_code.unknown"
    assert client.post("/staff/v1/scans", json={}, headers=clerk).status_code == 422


def test_codes_cannot_be_computed_without_the_secret(app, login, client):
    from app.services.members.member_code import current_code

    body, headers = login()
    clock.freeze(T0)
    real = _code(client, headers)["code"]
    forged = current_code("another-secret", body["member"]["id"], T0).code
    assert forged != real


def test_scanning_needs_a_store_bound_staff_member(client, login, make_staff, staff_headers):
    _, headers = login()
    code = _code(client, headers)["code"]
    marketer = staff_headers(make_staff("marketer"))
    response = client.post("/staff/v1/scans", json={"member_code": code}, headers=marketer)
    assert response.status_code == 403
    assert error_code(response) == "staff.store_required"


def test_scan_needs_staff_auth(client, login):
    _, headers = login()
    code = _code(client, headers)["code"]
    assert (
        client.post("/staff/v1/scans", json={"member_code": code}, headers=headers).status_code
        == 401
    )


def test_resolve_scan_is_bound_to_its_staff_member_and_expires(
    app, session, client, login, make_staff, staff_headers
):
    from app.errors import AppError
    from app.services.till.scans import resolve_scan

    _, headers = login()
    clock.freeze(T0)
    code = _code(client, headers)["code"]
    clerk, other = make_staff("clerk"), make_staff("clerk")
    scan_id = client.post(
        "/staff/v1/scans", json={"member_code": code}, headers=staff_headers(clerk)
    ).get_json()["scan_id"]
    assert resolve_scan(session, scan_id, clerk).member_id
    with pytest.raises(AppError) as foreign:
        resolve_scan(session, scan_id, other)
    assert foreign.value.code == "scan.not_found"
    with pytest.raises(AppError) as expired:
        resolve_scan(session, scan_id, clerk, now=T0 + timedelta(minutes=10, seconds=1))
    assert (expired.value.status, expired.value.code) == (410, "scan.expired")


def test_one_code_scanned_by_two_clerks_at_once_succeeds_once(
    live_server, client, login, make_staff, staff_headers
):
    _, headers = login()
    code = _code(client, headers)["code"]
    clerks = [staff_headers(make_staff("clerk")) for _ in range(2)]
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def scan(h):
        barrier.wait()
        statuses.append(
            requests.post(
                live_server + "/staff/v1/scans", json={"member_code": code}, headers=h, timeout=10
            ).status_code
        )

    threads = [threading.Thread(target=scan, args=(h,)) for h in clerks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409]


def test_after_a_scan_the_next_code_is_a_fresh_one(client, login, make_staff, staff_headers):
    """A shopper paying twice at one till need not wait for the 30-second step to end."""
    _, headers = login()
    clerk = staff_headers(make_staff("clerk"))
    clock.freeze(T0 + timedelta(seconds=5))
    used = _code(client, headers)["code"]
    assert (
        client.post("/staff/v1/scans", json={"member_code": used}, headers=clerk).status_code == 201
    )
    clock.freeze(T0 + timedelta(seconds=10))  # the same 30-second step
    fresh = _code(client, headers)
    assert fresh["code"] != used
    assert datetime.fromisoformat(fresh["expires_at"]) == T0 + timedelta(seconds=90)
    assert _code(client, headers)["code"] == fresh["code"]  # stable until it is used
    second = client.post("/staff/v1/scans", json={"member_code": fresh["code"]}, headers=clerk)
    assert second.status_code == 201
    # The used codes still never scan twice.
    for code in (used, fresh["code"]):
        again = client.post("/staff/v1/scans", json={"member_code": code}, headers=clerk)
        assert (again.status_code, error_code(again)) == (409, "member_code.used")
    third = _code(client, headers)["code"]
    assert third not in (used, fresh["code"])
    assert (
        client.post("/staff/v1/scans", json={"member_code": third}, headers=clerk).status_code
        == 201
    )
