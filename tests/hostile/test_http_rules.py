"""HTTP rules every endpoint follows: a PATCH names something to change, and a 405 says which
methods the path does take (`Allow`). The operations are read from /openapi.json, so a new
PATCH or path is covered without a case of its own."""

from __future__ import annotations

import re

from tests.conftest import error_code

JSON = {"Content-Type": "application/json"}


def _spec(client) -> dict:
    return client.get("/openapi.json").get_json()["paths"]


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_a_patch_with_no_body_or_an_empty_object_is_422_on_every_patch(
    client, make_staff, staff_headers, make_member, member_headers
):
    member, admin = make_member(), make_staff("admin")
    patches = [path for path, item in _spec(client).items() if "patch" in item]
    assert len(patches) >= 7
    for path in patches:
        headers = member_headers(member) if path.startswith("/api/") else staff_headers(admin)
        for body in (None, b"", b"{}"):
            response = client.patch(
                _url(path), data=body, headers={**headers, **(JSON if body else {})}
            )
            assert response.status_code == 422, (path, body, response.get_json())
            assert error_code(response) == "request.invalid"


def test_a_patch_that_names_nothing_changes_nothing(client, make_member, member_headers):
    member = make_member(nickname="before")
    headers = member_headers(member)
    for kwargs in ({}, {"json": {}}, {"data": b"", "content_type": "application/json"}):
        response = client.patch("/api/v1/me", headers=headers, **kwargs)
        assert response.status_code == 422, response.get_json()
        assert "_schema" in response.get_json()["error"]["details"]
    assert client.get("/api/v1/me", headers=headers).get_json()["nickname"] == "before"
    assert (
        client.patch("/api/v1/me", json={"nickname": "after"}, headers=headers).status_code == 200
    )


def test_a_405_says_which_methods_the_path_takes(client, make_member, member_headers):
    spec = _spec(client)
    checked = 0
    for path, item in spec.items():
        documented = {m.upper() for m in item if m in {"get", "post", "put", "patch", "delete"}}
        wrong = next(m for m in ("DELETE", "PUT", "PATCH", "POST") if m not in documented)
        response = client.open(_url(path), method=wrong)
        if response.status_code != 405:
            continue  # a catch-all or sandbox route answers first; the others are checked
        assert error_code(response) == "method.not_allowed"
        allowed = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
        assert documented <= allowed, (path, wrong, response.headers.get("Allow"))
        assert wrong not in allowed
        checked += 1
    assert checked >= len(spec) * 3 // 4
