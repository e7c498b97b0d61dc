"""Hostile input: oversized and deeply nested bodies, wrong types, unicode edge cases and
SQL-looking strings get a clear 4xx or are stored exactly as sent, never a 500."""

from __future__ import annotations

import json

import pytest

from tests.conftest import error_code

JSON = {"Content-Type": "application/json"}


def test_an_oversized_body_is_413_and_changes_nothing(client, make_member, member_headers):
    member = make_member(nickname="before")
    huge = json.dumps({"nickname": "x" * (300 * 1024)})
    response = client.patch("/api/v1/me", data=huge, headers={**member_headers(member), **JSON})
    assert response.status_code == 413
    assert error_code(response) == "request.too_large"
    assert client.get("/api/v1/me", headers=member_headers(member)).get_json()["nickname"] == (
        "before"
    )


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/staff/v1/auth/login"])
def test_an_oversized_body_on_sign_in_is_413(client, path):
    response = client.post(path, data=b'{"code": "' + b"a" * (512 * 1024) + b'"}', headers=JSON)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,  # would exhaust the JSON parser's recursion
        '{"a":' * 40_000 + "1" + "}" * 40_000,
        '{"nickname": "ok", "x": ' + "[" * 36 + "1" + "]" * 36 + "}",
    ],
    ids=["arrays-100k", "objects-40k", "arrays-36"],
)
def test_deeply_nested_json_is_refused_with_4xx(client, make_member, member_headers, body):
    member = make_member(nickname="before")
    response = client.patch("/api/v1/me", data=body, headers={**member_headers(member), **JSON})
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:200]
    assert error_code(response) in {"request.invalid", "request.malformed"}
    assert client.get("/api/v1/me", headers=member_headers(member)).get_json()["nickname"] == (
        "before"
    )


def test_a_body_that_is_not_json_is_400(client, make_member, member_headers):
    member = make_member()
    for data in (b"{not json", b"\xff\xfe\x00garbage", b'{"nickname": "a"'):
        response = client.patch("/api/v1/me", data=data, headers={**member_headers(member), **JSON})
        assert response.status_code == 400
        assert error_code(response) == "request.malformed"


@pytest.mark.parametrize(
    "changes",
    [
        {"nickname": 12345},
        {"nickname": ["a"]},
        {"nickname": {"$ne": ""}},
        {"nickname": None},
        {"nickname": ""},
        {"gender": "male"},
        {"gender": 7},
        {"gender": 1.5},
        {"gender": True},
        {"birthday": "31/12/1990"},
        {"birthday": "1990-02-30"},
        {"avatar_url": "javascript:alert(1)"},
        {"unknown_field": 1},
    ],
)
def test_wrong_types_on_the_profile_are_422_and_change_nothing(
    client, make_member, member_headers, changes
):
    member = make_member(nickname="before")
    response = client.patch("/api/v1/me", json=changes, headers=member_headers(member))
    assert response.status_code == 422, response.get_json()
    assert error_code(response) == "request.invalid"
    assert client.get("/api/v1/me", headers=member_headers(member)).get_json()["nickname"] == (
        "before"
    )


@pytest.mark.parametrize(
    "amount",
    ["100", 10.5, True, None, -1, 10**30, -(10**30), [100], {"fen": 100}],
)
def test_wrong_amounts_at_the_till_are_422_and_earn_nothing(
    client, make_store, make_staff, make_member, staff_headers, scan_for, amount
):
    store = make_store()
    clerk = make_staff("clerk", store=store)
    member = make_member(store=store)
    scan_id = scan_for(member, clerk)
    response = client.post(
        "/staff/v1/purchases",
        json={"scan_id": scan_id, "order_no": "A-1", "amount_fen": amount},
        headers=staff_headers(clerk),
    )
    assert response.status_code == 422, response.get_json()
    from app.extensions import db
    from tests.conftest import ledger_invariants

    assert ledger_invariants(db.session, member.id) == 0


@pytest.mark.parametrize(
    "nickname",
    [
        "小明🙂",  # CJK and an emoji (4 bytes in UTF-8)
        "𠀀𠀁𪚥",  # supplementary-plane CJK (4 bytes each)
        "مرحبا بالعالم",  # right-to-left
        "a\u202eevil",  # a right-to-left override inside text
        "👩‍👩‍👧‍👦",  # a family: emoji joined by zero-width joiners
        "e\u0301\u0301\u0301",  # combining accents
        "🙂" * 32,  # 32 characters at the limit, 128 bytes
        "Robert'); DROP TABLE members;--",
        "' OR '1'='1",
        '"; SELECT pg_sleep(10); --',
        "%s %(x)s {0} ${x}",
        "<script>alert(1)</script>",
    ],
)
def test_unusual_but_valid_nicknames_are_stored_exactly(
    client, make_member, member_headers, nickname
):
    member = make_member()
    headers = member_headers(member)
    response = client.patch("/api/v1/me", json={"nickname": nickname}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["nickname"] == nickname
    assert client.get("/api/v1/me", headers=member_headers(member)).get_json()["nickname"] == (
        nickname
    )


@pytest.mark.parametrize(
    "raw_nickname",
    [
        '"nul\\u0000byte"',  # NUL: PostgreSQL text cannot hold it
        '"\\ud800"',  # a lone high surrogate: not encodable as UTF-8
        '"abc\\udfff"',  # a lone low surrogate
        '"🙂\\ud83d"',  # an emoji followed by half of another
    ],
)
def test_nul_and_lone_surrogates_are_422_and_change_nothing(
    client, make_member, member_headers, raw_nickname
):
    member = make_member(nickname="before")
    body = '{"nickname": ' + raw_nickname + "}"
    response = client.patch("/api/v1/me", data=body, headers={**member_headers(member), **JSON})
    assert response.status_code == 422, response.get_json()
    assert error_code(response) == "request.invalid"
    assert "nickname" in response.get_json()["error"]["details"]
    assert client.get("/api/v1/me", headers=member_headers(member)).get_json()["nickname"] == (
        "before"
    )


def test_nul_in_query_and_path_is_422(client, make_staff, staff_headers):
    manager = make_staff("manager")
    response = client.get("/staff/v1/members?phone=138%00", headers=staff_headers(manager))
    assert response.status_code == 422
    clerk = make_staff("clerk")
    response = client.post(
        "/staff/v1/purchases/A%00B/refunds",
        json={"refund_no": "R1", "amount_fen": 100},
        headers=staff_headers(clerk),
    )
    assert response.status_code == 422
    assert error_code(response) == "request.invalid"


@pytest.mark.parametrize(
    "text", ["' OR 1=1 --", "1; DROP TABLE members", "\\x27 UNION SELECT *", "%' AND '%'='"]
)
def test_sql_looking_strings_find_nothing_and_break_nothing(
    client, make_store, make_staff, make_member, staff_headers, text
):
    store = make_store()
    manager = make_staff("manager", store=store)
    make_member(store=store, phone="13800138000")
    for key in ("phone", "member_no"):
        response = client.get(
            "/staff/v1/members", query_string={key: text}, headers=staff_headers(manager)
        )
        assert response.status_code in (200, 422), response.get_json()
        if response.status_code == 200:
            assert response.get_json()["items"] == []
    login = client.post("/staff/v1/auth/login", json={"username": text, "password": text})
    assert login.status_code in (401, 422)
    refund = client.post(
        f"/staff/v1/purchases/{text.replace('%', '%25')}/refunds",
        json={"refund_no": text, "amount_fen": 100},
        headers=staff_headers(manager),
    )
    assert refund.status_code in (404, 422), refund.get_json()


def test_sign_in_codes_with_odd_text_are_4xx(client):
    for code in ("", " ", "x" * 129, "' OR 1=1 --", "test:\u202e", "🙂" * 10):
        response = client.post("/api/v1/auth/login", json={"code": code})
        assert response.status_code < 500, (code, response.get_json())
    response = client.post("/api/v1/auth/login", json={"code": "test:bob", "store_id": 2**63})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "application/xml"]
)
def test_a_body_that_is_not_json_is_415(client, make_member, member_headers, content_type):
    member = make_member(nickname="before")
    response = client.patch(
        "/api/v1/me",
        data="nickname=x",
        headers={**member_headers(member), "Content-Type": content_type},
    )
    assert response.status_code == 415
    assert error_code(response) == "request.unsupported_media_type"
    assert client.get("/api/v1/me", headers=member_headers(member)).get_json()["nickname"] == (
        "before"
    )
