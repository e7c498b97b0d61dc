"""Staff sign-in, rate limits, roles, admin CRUD of stores and staff, the CLI."""

from __future__ import annotations

from app.models import AuditEntry, Staff
from tests.conftest import error_code


def test_staff_login_returns_token_and_role(client, make_staff):
    clerk = make_staff("clerk")
    response = client.post(
        "/staff/v1/auth/login", json={"username": clerk.username, "password": "pass-1234"}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["staff"] == {
        "id": clerk.id,
        "role": "clerk",
        "store_id": clerk.store_id,
        "username": clerk.username,
        "display_name": "",
        "is_active": True,
        "staff_code": clerk.staff_code,
        "created_at": body["staff"]["created_at"],
    }
    assert body["token"]


def test_wrong_password_unknown_user_and_inactive_staff_all_get_401(client, make_staff, session):
    clerk = make_staff("clerk")
    for username, password in ((clerk.username, "wrong"), ("ghost", "pass-1234")):
        response = client.post(
            "/staff/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 401
        assert error_code(response) == "auth.invalid_credentials"
    clerk.is_active = False
    session.commit()
    response = client.post(
        "/staff/v1/auth/login", json={"username": clerk.username, "password": "pass-1234"}
    )
    assert response.status_code == 401


def test_login_attempts_are_limited_per_username(client, make_staff):
    clerk = make_staff("clerk")
    statuses = [
        client.post(
            "/staff/v1/auth/login", json={"username": clerk.username, "password": "bad"}
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    limited = client.post(
        "/staff/v1/auth/login", json={"username": clerk.username, "password": "pass-1234"}
    )
    assert limited.status_code == 429
    assert error_code(limited) == "rate.limited"
    assert int(limited.headers["Retry-After"]) > 0
    other = make_staff("clerk")
    ok = client.post(
        "/staff/v1/auth/login", json={"username": other.username, "password": "pass-1234"}
    )
    assert ok.status_code == 200


def test_login_attempts_are_limited_per_address(client):
    statuses = [
        client.post("/staff/v1/auth/login", json={"username": f"u{i}", "password": "x"}).status_code
        for i in range(31)
    ]
    assert statuses[:30] == [401] * 30
    assert statuses[30] == 429


def _staff_login(client, username: str, password: str, address: str):
    return client.post(
        "/staff/v1/auth/login",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_wrong_passwords_from_elsewhere_do_not_lock_the_staff_member_out(client, make_staff):
    """Failures count per username and address; a right password from an address the staff
    member signed in from before gets through even while the username is under attack."""
    clerk = make_staff("clerk")
    till = "10.0.0.1"
    assert _staff_login(client, clerk.username, "pass-1234", till).status_code == 200
    attacker = "10.6.6.6"
    statuses = [_staff_login(client, clerk.username, "bad", attacker).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    limited = _staff_login(client, clerk.username, "pass-1234", attacker)
    assert (limited.status_code, error_code(limited)) == (429, "rate.limited")
    assert int(limited.headers["Retry-After"]) > 0
    assert _staff_login(client, clerk.username, "pass-1234", till).status_code == 200
    # A new address has its own five tries.
    assert _staff_login(client, clerk.username, "bad", "10.0.0.2").status_code == 401
    assert _staff_login(client, clerk.username, "pass-1234", "10.0.0.2").status_code == 200


def test_a_username_guessed_from_many_addresses_admits_only_known_ones(client, make_staff):
    clerk = make_staff("clerk")
    till = "10.0.1.1"
    assert _staff_login(client, clerk.username, "pass-1234", till).status_code == 200
    statuses = [
        _staff_login(client, clerk.username, "bad", f"10.7.{i}.1").status_code for i in range(25)
    ]
    assert statuses == [401] * 20 + [429] * 5
    # A stranger is refused even with the right password; the staff member's own till is not.
    stranger = _staff_login(client, clerk.username, "pass-1234", "10.8.0.1")
    assert (stranger.status_code, error_code(stranger)) == (429, "rate.limited")
    assert _staff_login(client, clerk.username, "bad", till).status_code == 401
    assert _staff_login(client, clerk.username, "pass-1234", till).status_code == 200


def test_member_tokens_are_refused_on_staff_endpoints(client, make_member, member_headers):
    response = client.get("/staff/v1/admin/stores", headers=member_headers(make_member()))
    assert response.status_code == 401


def test_a_deactivated_staff_members_token_stops_working(
    client, make_staff, staff_headers, session
):
    admin = make_staff("admin")
    headers = staff_headers(admin)
    assert client.get("/staff/v1/admin/stores", headers=headers).status_code == 200
    admin.is_active = False
    session.commit()
    assert client.get("/staff/v1/admin/stores", headers=headers).status_code == 401


def test_only_admins_manage_stores_and_staff(client, make_staff, staff_headers):
    for role in ("clerk", "manager", "marketer"):
        headers = staff_headers(make_staff(role))
        assert client.get("/staff/v1/admin/stores", headers=headers).status_code == 403
        assert client.post("/staff/v1/admin/staff", json={}, headers=headers).status_code == 403


def test_admin_store_crud(client, make_staff, staff_headers, session):
    admin = make_staff("admin")
    headers = staff_headers(admin)
    created = client.post(
        "/staff/v1/admin/stores", json={"code": "SH01", "name": "上海一店"}, headers=headers
    )
    assert created.status_code == 201
    store_id = created.get_json()["id"]
    dup = client.post("/staff/v1/admin/stores", json={"code": "SH01", "name": "x"}, headers=headers)
    assert dup.status_code == 409 and error_code(dup) == "store.code_taken"
    patched = client.patch(
        f"/staff/v1/admin/stores/{store_id}", json={"name": "上海旗舰店"}, headers=headers
    )
    assert patched.get_json()["name"] == "上海旗舰店"
    closed = client.delete(f"/staff/v1/admin/stores/{store_id}", headers=headers)
    assert closed.get_json()["is_active"] is False
    assert client.get("/staff/v1/admin/stores/9999", headers=headers).status_code == 404
    listing = client.get("/staff/v1/admin/stores?limit=1", headers=headers).get_json()
    assert len(listing["items"]) == 1
    assert session.query(AuditEntry).filter_by(staff_id=admin.id).count() == 3


def test_admin_staff_crud_and_role_rules(
    client, make_staff, make_store, staff_headers, staff_login
):
    admin = make_staff("admin")
    headers = staff_headers(admin)
    store = make_store()
    no_store = client.post(
        "/staff/v1/admin/staff",
        json={"username": "clerk9", "password": "longenough", "role": "clerk"},
        headers=headers,
    )
    assert no_store.status_code == 422 and "store_id" in no_store.get_json()["error"]["details"]
    created = client.post(
        "/staff/v1/admin/staff",
        json={
            "username": "clerk9",
            "password": "longenough",
            "role": "clerk",
            "store_id": store.id,
        },
        headers=headers,
    )
    assert created.status_code == 201
    assert "password" not in created.get_data(as_text=True)
    staff_id = created.get_json()["id"]
    dup = client.post(
        "/staff/v1/admin/staff",
        json={"username": "clerk9", "password": "longenough", "role": "admin"},
        headers=headers,
    )
    assert dup.status_code == 409 and error_code(dup) == "staff.username_taken"
    promoted = client.patch(
        f"/staff/v1/admin/staff/{staff_id}", json={"role": "manager"}, headers=headers
    )
    assert promoted.get_json()["role"] == "manager"
    gone = client.delete(f"/staff/v1/admin/staff/{staff_id}", headers=headers)
    assert gone.get_json()["is_active"] is False
    me = client.patch(
        f"/staff/v1/admin/staff/{admin.id}", json={"is_active": False}, headers=headers
    )
    assert me.status_code == 409


def test_staff_create_command(app, make_store, session):
    store = make_store()
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "staff",
            "create",
            "till7",
            "--role",
            "clerk",
            "--store",
            str(store.id),
            "--password",
            "secret-123",
        ]
    )
    assert result.exit_code == 0, result.output
    assert session.query(Staff).filter_by(username="till7", store_id=store.id).one().role == "clerk"
    bad = runner.invoke(
        args=["staff", "create", "boss", "--role", "manager", "--password", "secret-123"]
    )
    assert bad.exit_code != 0
    assert "store" in bad.output


def test_demo_load_is_idempotent(app, session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    second = runner.invoke(args=["demo", "load"])
    assert first.exit_code == second.exit_code == 0
    assert "clerk1" in first.output
    assert session.query(Staff).count() == 5


def test_demo_shoppers_can_claim_the_coupon_and_draw(app, session, login, client):
    assert app.test_cli_runner().invoke(args=["demo", "load"]).exit_code == 0
    assert app.test_cli_runner().invoke(args=["demo", "load"]).exit_code == 0
    _, headers = login("demo-shopper")
    coupons = client.get("/api/v1/coupons/available", headers=headers).get_json()["items"]
    assert [c["name"] for c in coupons] == ["满30减5"]
    claimed = client.post(f"/api/v1/coupons/{coupons[0]['id']}/claims", headers=headers)
    assert claimed.status_code == 201
    lotteries = client.get("/api/v1/lotteries", headers=headers).get_json()["items"]
    assert [(lot["name"], len(lot["prizes"])) for lot in lotteries] == [("幸运大转盘", 2)]
    draw = client.post(f"/api/v1/lotteries/{lotteries[0]['id']}/draws", headers=headers)
    assert draw.status_code == 409 and draw.get_json()["error"]["code"] == "points.insufficient"


def test_manager_finds_only_members_of_their_store(
    client, make_staff, make_store, make_member, staff_headers
):
    store_a, store_b = make_store(), make_store()
    make_member(store=store_a, phone="13800000001")
    make_member(store=store_b, phone="13800000002")
    manager = staff_headers(make_staff("manager", store=store_a))
    mine = client.get("/staff/v1/members?phone=13800000001", headers=manager).get_json()["items"]
    theirs = client.get("/staff/v1/members?phone=13800000002", headers=manager).get_json()["items"]
    assert len(mine) == 1 and mine[0]["phone_masked"] == "138****0001"
    assert set(mine[0]) == {
        "id",
        "member_no",
        "nickname",
        "phone_masked",
        "tier",
        "points_balance",
        "coupons",
        "pickups",
        "paid_membership",
        "segment",
    }
    assert mine[0]["segment"] is None  # no nightly refresh has seen the member yet
    assert mine[0]["paid_membership"] is None  # no paid plan
    assert theirs == []
    marketer = staff_headers(make_staff("marketer"))
    assert (
        len(client.get("/staff/v1/members?phone=13800000002", headers=marketer).get_json()["items"])
        == 1
    )
    clerk = staff_headers(make_staff("clerk", store=store_a))
    assert client.get("/staff/v1/members?phone=13800000001", headers=clerk).status_code == 403
    assert client.get("/staff/v1/members", headers=manager).status_code == 422
