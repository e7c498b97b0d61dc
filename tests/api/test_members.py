"""Shopper sign-in, phone binding and profile (API.md: /api/v1/auth/login, /me, /me/phone)."""

from __future__ import annotations

import threading

import requests
from sqlalchemy import func, select

from app.models import Member
from tests.conftest import error_code


def test_first_login_creates_the_member_and_later_logins_find_it(client, make_store, session):
    store = make_store()
    first = client.post("/api/v1/auth/login", json={"code": "test:alice", "store_id": store.id})
    assert first.status_code == 200
    body = first.get_json()
    assert body["is_new"] is True
    assert body["expires_in"] > 0
    member = body["member"]
    assert len(member["member_no"]) == 12 and member["member_no"].isdigit()
    assert member["store_id"] == store.id
    assert member["points"] == {"balance": 0, "expiring": []}
    assert member["checkin"] == {"streak": 0, "checked_in_today": False}
    assert member["referral_code"]
    again = client.post("/api/v1/auth/login", json={"code": "test:alice"}).get_json()
    assert again["is_new"] is False
    assert again["member"]["id"] == member["id"]
    stored = session.get(Member, member["id"])
    assert stored.unionid and stored.session_key


def test_login_never_reveals_the_session_key(client, capfd):
    response = client.post("/api/v1/auth/login", json={"code": "test:carol"})
    assert "session_key" not in response.get_data(as_text=True)
    stored_key = Member.query.filter_by(id=response.get_json()["member"]["id"]).one().session_key
    out, err = capfd.readouterr()
    assert stored_key not in out + err


def test_unknown_store_in_login_is_ignored(client):
    body = client.post("/api/v1/auth/login", json={"code": "test:dan", "store_id": 999}).get_json()
    assert body["member"]["store_id"] is None


def test_invalid_code_is_400_and_creates_nothing(client, session):
    response = client.post("/api/v1/auth/login", json={"code": "not-a-code"})
    assert response.status_code == 400
    assert error_code(response) == "wechat.invalid_code"
    assert session.scalar(select(func.count()).select_from(Member)) == 0


def test_wechat_down_is_502_not_500(client, live_server):
    requests.post(
        live_server + "/_sandbox/wechat/faults",
        json={"api": "jscode2session", "errcode": -1},
        timeout=5,
    )
    response = client.post("/api/v1/auth/login", json={"code": "test:erin"})
    assert response.status_code == 502
    assert error_code(response) == "wechat.unavailable"


def test_login_body_is_validated(client):
    response = client.post("/api/v1/auth/login", json={"store_id": "x"})
    assert response.status_code == 422
    body = response.get_json()["error"]
    assert body["code"] == "request.invalid"
    assert "code" in body["details"] and "store_id" in body["details"]
    assert client.post(
        "/api/v1/auth/login", data="{", content_type="application/json"
    ).status_code in (400, 422)


def test_bind_phone_and_mask(client, login):
    _, headers = login("alice")
    response = client.post(
        "/api/v1/me/phone", json={"code": "test-phone:13800138000"}, headers=headers
    )
    assert response.status_code == 200
    assert response.get_json()["phone_masked"] == "138****8000"
    assert client.get("/api/v1/me", headers=headers).get_json()["phone_masked"] == "138****8000"


def test_a_phone_belongs_to_one_member(client, login):
    _, alice = login("alice")
    _, bob = login("bob")
    assert (
        client.post(
            "/api/v1/me/phone", json={"code": "test-phone:13900000000"}, headers=alice
        ).status_code
        == 200
    )
    taken = client.post("/api/v1/me/phone", json={"code": "test-phone:13900000000"}, headers=bob)
    assert taken.status_code == 409
    assert error_code(taken) == "member.phone_taken"
    assert client.get("/api/v1/me", headers=bob).get_json()["phone_masked"] is None


def test_invalid_phone_code_is_400(client, login):
    _, headers = login()
    response = client.post("/api/v1/me/phone", json={"code": "nope"}, headers=headers)
    assert response.status_code == 400
    assert error_code(response) == "wechat.invalid_code"


def test_patch_me(client, login):
    _, headers = login()
    response = client.patch(
        "/api/v1/me",
        json={
            "nickname": "阿丽",
            "gender": 2,
            "birthday": "1990-05-01",
            "avatar_url": "https://x.cn/a.png",
        },
        headers=headers,
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["nickname"], body["gender"], body["birthday"]) == ("阿丽", 2, "1990-05-01")
    locked = client.patch("/api/v1/me", json={"birthday": "1991-05-01"}, headers=headers)
    assert locked.status_code == 409
    assert error_code(locked) == "member.birthday_locked"
    bad = client.patch(
        "/api/v1/me", json={"gender": 7, "avatar_url": "javascript:alert(1)"}, headers=headers
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["details"]) == {"gender", "avatar_url"}


def test_me_requires_a_member_token(client, make_staff, staff_headers):
    assert client.get("/api/v1/me").status_code == 401
    assert (
        error_code(client.get("/api/v1/me", headers={"Authorization": "Bearer junk"}))
        == "auth.invalid_token"
    )
    staff_token = staff_headers(make_staff("admin"))
    assert client.get("/api/v1/me", headers=staff_token).status_code == 401


def test_an_expired_member_token_is_refused(app, client, login, monkeypatch):
    _, headers = login()
    monkeypatch.setitem(app.config, "MEMBER_TOKEN_TTL", -1)
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "auth.token_expired"


def test_twenty_concurrent_first_logins_create_one_member(live_server, session):
    barrier = threading.Barrier(20)
    results: list[dict] = []

    def login_once():
        barrier.wait()
        response = requests.post(
            live_server + "/api/v1/auth/login", json={"code": "test:rush"}, timeout=30
        )
        results.append({"status": response.status_code, **response.json()})

    threads = [threading.Thread(target=login_once) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r["status"] for r in results] == [200] * 20
    assert len({r["member"]["id"] for r in results}) == 1
    assert sum(r["is_new"] for r in results) == 1
    assert session.scalar(select(func.count()).select_from(Member)) == 1


def test_ping_answers_the_signed_in_member_and_nothing_else(client, make_member, member_headers):
    member = make_member()
    response = client.get("/api/v1/ping", headers=member_headers(member))
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "member_id": member.id}
    assert client.get("/api/v1/ping").status_code == 401


def test_member_code_shows_the_code_its_expiry_and_when_to_refresh(client, login):
    _, headers = login()
    body = client.get("/api/v1/me/member-code", headers=headers).get_json()
    assert set(body) == {"code", "expires_at", "refresh_after"}  # the step stays inside
    assert len(body["code"]) == 18 and body["code"].startswith("66")
    assert 1 <= body["refresh_after"] <= 30


def test_me_is_one_statement_that_agrees_with_the_ledger_and_check_in_rules(
    app, client, make_member, member_headers, grant, session
):
    """GET /me reads the member, what expires in the next 30 days and the streak in one round
    trip (issue 15), and says what ledger.expiring_summary and checkin.status say."""
    from datetime import UTC, date, datetime, timedelta

    from sqlalchemy import event

    from app import clock
    from app.extensions import db
    from app.services import checkin, ledger

    clock.freeze(datetime(2026, 11, 10, 1, 0, tzinfo=UTC))  # 09:00 on 10 Nov in Beijing
    today = date(2026, 11, 10)
    member = make_member(joined_at=datetime(2026, 9, 1, tzinfo=UTC))
    headers = member_headers(member)
    session.commit()
    assert client.post("/api/v1/checkins", headers=headers).status_code == 201  # streak 1
    for amount, days in ((7, 0), (3, 12), (4, 12), (5, 30), (9, 31), (11, 200)):
        grant(member, amount, expires_on=today + timedelta(days=days))
    ledger.spend(session, member.id, 5, reason="adjustment", ref="test-spend", now=clock.now())
    session.commit()
    client.get("/api/v1/me", headers=headers)  # the programs' settings are cached from here on
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        answer = client.get("/api/v1/me", headers=headers)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert answer.status_code == 200
    assert len(statements) == 1, statements
    body = answer.get_json()
    expected = [
        {"points": row["points"], "expires_on": row["expires_on"].isoformat()}
        for row in ledger.expiring_summary(session, member.id, today)
    ]
    assert body["points"]["expiring"] == expected
    assert [e["expires_on"] for e in expected][-1] == (today + timedelta(days=30)).isoformat()
    assert body["points"]["balance"] == ledger_balance(session, member.id)
    assert (
        body["checkin"]
        == checkin.status(session, member.id, today)
        == {
            "streak": 1,
            "checked_in_today": True,
        }
    )
    assert set(body) == {
        "id", "member_no", "nickname", "avatar_url", "phone_masked", "birthday", "gender",
        "tier", "points", "checkin", "referral_code", "store_id", "joined_at", "paid_membership",
    }  # fmt: skip
    assert body["joined_at"] == "2026-09-01T00:00:00+00:00"
    assert body["tier"]["code"] and body["tier"]["name"]
    clock.freeze(datetime(2026, 11, 11, 1, 0, tzinfo=UTC))  # the next day: yesterday's streak
    assert client.get("/api/v1/me", headers=headers).get_json()["checkin"] == {
        "streak": 1,
        "checked_in_today": False,
    }
    clock.freeze(None)


def ledger_balance(session, member_id: int) -> int:
    from app.models import Member

    session.expire_all()
    return session.get(Member, member_id).points_balance


def test_me_for_a_member_who_no_longer_exists_is_401_without_a_separate_check(
    client, make_member, member_headers, session
):
    from app.models import Member

    ghost = make_member()
    headers = member_headers(ghost)
    session.query(Member).filter_by(id=ghost.id).update({"id": ghost.id + 10_000})
    session.commit()
    answer = client.get("/api/v1/me", headers=headers)
    assert (answer.status_code, error_code(answer)) == (401, "auth.invalid_token")
