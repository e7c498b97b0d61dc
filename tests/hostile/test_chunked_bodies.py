"""The input guard sees a body however it arrives: with Content-Length, chunked
(Transfer-Encoding: chunked, no Content-Length) over real HTTP, or through a WSGI environ
without CONTENT_LENGTH. The same refusals hold: over 256 KiB is 413, not JSON on a JSON endpoint
is 415, NUL / lone surrogates / JSON nested too deep are 4xx — and nothing changes."""

from __future__ import annotations

import http.client
import io
import json
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import error_code

JSON = {"Content-Type": "application/json"}


def send_chunked(live_server: str, method: str, path: str, body: bytes, headers: dict):
    """One request with a chunked body (8 KiB chunks, no Content-Length): (status, json)."""
    url = urlsplit(live_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))
    try:
        try:
            conn.request(method, path, body=chunks, headers=headers, encode_chunked=True)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (413) before reading everything: read that answer
        response = conn.getresponse()
        raw = response.read()
        assert "content-length" not in {k.lower() for k in headers}
        return response.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def send_without_length(client, method: str, path: str, body: bytes, headers: dict):
    """The same through the Flask test client: a WSGI environ with the body on wsgi.input, no
    CONTENT_LENGTH, and the server's mark that it ends the stream (as gunicorn and werkzeug
    set for a chunked request)."""
    return client.open(
        path,
        method=method,
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


# (body, content type, status, codes allowed)
REFUSED = {
    "nul": (b'{"nickname": "nul\\u0000byte"}', "application/json", 422, {"request.invalid"}),
    "lone-surrogate": (b'{"nickname": "\\ud800"}', "application/json", 422, {"request.invalid"}),
    "half-an-emoji": (b'{"nickname": "x\\ud83d"}', "application/json", 422, {"request.invalid"}),
    "arrays-50k": (
        b"[" * 50_000 + b"]" * 50_000,
        "application/json",
        422,
        {"request.invalid"},
    ),
    "objects-40k": (
        b'{"a":' * 40_000 + b"1" + b"}" * 40_000,
        "application/json",
        422,
        {"request.invalid"},
    ),
    "text-plain": (b"nickname=x", "text/plain", 415, {"request.unsupported_media_type"}),
    "form": (
        b"nickname=x",
        "application/x-www-form-urlencoded",
        415,
        {"request.unsupported_media_type"},
    ),
    "400-kb": (
        json.dumps({"nickname": "x" * (400 * 1024)}).encode(),
        "application/json",
        413,
        {"request.too_large"},
    ),
    "not-json": (b'{"nickname": "a"', "application/json", 400, {"request.malformed"}),
}


def _nickname(live_server, member, member_headers) -> str:
    """Read over HTTP: a fresh session of the server's, not the test's (which still holds the
    member as the factory loaded it)."""
    return requests.get(
        f"{live_server}/api/v1/me", headers=member_headers(member), timeout=10
    ).json()["nickname"]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_chunked_body_over_http_is_guarded_like_any_other(
    live_server, client, make_member, member_headers, case
):
    body, content_type, status, codes = REFUSED[case]
    member = make_member(nickname="before")
    headers = {**member_headers(member), "Content-Type": content_type}
    answered, answer = send_chunked(live_server, "PATCH", "/api/v1/me", body, headers)
    assert answered == status, answer
    assert answer["error"]["code"] in codes
    assert _nickname(live_server, member, member_headers) == "before"


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_body_without_content_length_is_guarded_like_any_other(
    live_server, client, make_member, member_headers, case
):
    body, content_type, status, codes = REFUSED[case]
    member = make_member(nickname="before")
    headers = {**member_headers(member), "Content-Type": content_type}
    response = send_without_length(client, "PATCH", "/api/v1/me", body, headers)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert error_code(response) in codes
    assert _nickname(live_server, member, member_headers) == "before"


def test_a_good_chunked_body_reaches_the_handler(live_server, client, make_member, member_headers):
    member = make_member(nickname="before")
    headers = {**member_headers(member), **JSON}
    body = json.dumps({"nickname": "小明🙂"}).encode()
    assert send_chunked(live_server, "PATCH", "/api/v1/me", body, headers)[0] == 200
    assert _nickname(live_server, member, member_headers) == "小明🙂"
    body = json.dumps({"nickname": "after"}).encode()
    assert send_without_length(client, "PATCH", "/api/v1/me", body, headers).status_code == 200
    assert _nickname(live_server, member, member_headers) == "after"


def test_a_chunked_body_just_under_the_limit_is_read_whole(
    live_server, client, make_member, member_headers
):
    """256 KiB exactly is allowed: the guard reads up to the limit, not a byte short of it."""
    member = make_member(nickname="before")
    headers = {**member_headers(member), **JSON}
    padding = 256 * 1024 - len(json.dumps({"nickname": "ok", "x": ""}))
    body = json.dumps({"nickname": "ok", "x": "y" * padding}).encode()
    assert len(body) == 256 * 1024
    status, answer = send_chunked(live_server, "PATCH", "/api/v1/me", body, headers)
    # Read whole and parsed: refused for the unknown field, not for its size.
    assert (status, answer["error"]["code"]) == (422, "request.invalid"), answer
    assert "x" in answer["error"]["details"]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/staff/v1/auth/login", b'{"username": "a\\u0000", "password": "x"}', 422),
        ("/staff/v1/auth/login", b'{"username": "' + b"a" * (400 * 1024) + b'"}', 413),
        ("/api/v1/auth/login", b'{"code": "\\udfff"}', 422),
        ("/api/v1/auth/login", b"[" * 50_000, 422),
    ],
    ids=["staff-nul", "staff-400kb", "member-surrogate", "member-deep"],
)
def test_chunked_sign_in_bodies_are_guarded(live_server, path, body, status):
    answered, answer = send_chunked(live_server, "POST", path, body, JSON)
    assert answered == status, answer
