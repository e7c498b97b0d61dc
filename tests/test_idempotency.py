"""The one Idempotency-Key mechanism, on a test-only endpoint that counts its real executions."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import member_required
from app.errors import AppError
from app.extensions import get_redis, rkey
from app.idempotency import idempotent

blp = Blueprint("idem_test", __name__, url_prefix="/_test")


@blp.route("/moves")
class Moves(MethodView):
    @member_required
    @idempotent
    def post(self):
        from flask import request

        body = request.get_json(silent=True) or {}
        executions = get_redis().incr(rkey("test", "executions"))
        if body.get("sleep"):
            time.sleep(float(body["sleep"]))
        if body.get("refuse"):
            raise AppError("points.insufficient", 409, "Not enough points.")
        if body.get("crash"):
            raise RuntimeError("boom")
        return {"executions": executions, "amount": body.get("amount")}, 201


@pytest.fixture(scope="module")
def idem_app(app):
    """A second app on the same database and Redis prefix, with the test endpoint."""
    from app import create_app

    other = create_app(dict(app.config))
    other.register_blueprint(blp)
    return other


@pytest.fixture
def idem_client(idem_app):
    return idem_app.test_client()


def executions() -> int:
    return int(get_redis().get(rkey("test", "executions")) or 0)


def test_same_key_same_body_replays_first_answer(idem_client, make_member, member_headers):
    headers = member_headers(make_member(), **{"Idempotency-Key": "k-1"})
    first = idem_client.post("/_test/moves", json={"amount": 5}, headers=headers)
    second = idem_client.post("/_test/moves", json={"amount": 5}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert executions() == 1


def test_key_order_and_whitespace_are_the_same_body(idem_client, make_member, member_headers):
    headers = member_headers(make_member(), **{"Idempotency-Key": "k-ws"})
    headers["Content-Type"] = "application/json"
    idem_client.post("/_test/moves", data='{"amount": 5, "b": 1}', headers=headers)
    again = idem_client.post("/_test/moves", data='{"b":1,"amount":5}', headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert executions() == 1


def test_same_key_other_body_is_409_mismatch(idem_client, make_member, member_headers):
    headers = member_headers(make_member(), **{"Idempotency-Key": "k-2"})
    idem_client.post("/_test/moves", json={"amount": 5}, headers=headers)
    other = idem_client.post("/_test/moves", json={"amount": 6}, headers=headers)
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency.mismatch"
    assert executions() == 1


def test_keys_are_scoped_to_the_caller(idem_client, make_member, member_headers):
    a, b = make_member(), make_member()
    r1 = idem_client.post(
        "/_test/moves", json={}, headers=member_headers(a, **{"Idempotency-Key": "x"})
    )
    r2 = idem_client.post(
        "/_test/moves", json={}, headers=member_headers(b, **{"Idempotency-Key": "x"})
    )
    assert r1.status_code == r2.status_code == 201
    assert "Idempotent-Replayed" not in r2.headers
    assert executions() == 2


def test_a_refusal_is_replayed_too(idem_client, make_member, member_headers):
    headers = member_headers(make_member(), **{"Idempotency-Key": "k-3"})
    first = idem_client.post("/_test/moves", json={"refuse": True}, headers=headers)
    second = idem_client.post("/_test/moves", json={"refuse": True}, headers=headers)
    assert first.status_code == second.status_code == 409
    assert second.get_json()["error"]["code"] == "points.insufficient"
    assert second.headers["Idempotent-Replayed"] == "true"
    assert executions() == 1


def test_a_crash_releases_the_key_so_a_retry_runs(idem_client, make_member, member_headers):
    headers = member_headers(make_member(), **{"Idempotency-Key": "k-4"})
    crashed = idem_client.post("/_test/moves", json={"crash": True}, headers=headers)
    assert crashed.status_code == 500
    assert crashed.get_json()["error"]["code"] == "internal.error"
    assert "boom" not in crashed.get_data(as_text=True)
    retried = idem_client.post("/_test/moves", json={"crash": True}, headers=headers)
    assert retried.status_code == 500
    assert executions() == 2


def test_without_a_key_every_request_runs(idem_client, make_member, member_headers):
    headers = member_headers(make_member())
    idem_client.post("/_test/moves", json={}, headers=headers)
    idem_client.post("/_test/moves", json={}, headers=headers)
    assert executions() == 2


def test_overlong_key_is_422(idem_client, make_member, member_headers):
    headers = member_headers(make_member(), **{"Idempotency-Key": "k" * 256})
    response = idem_client.post("/_test/moves", json={}, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "request.invalid"
    assert executions() == 0


def test_concurrent_requests_with_one_key_run_once(idem_app, make_member, member_headers):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, idem_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/_test/moves"
    headers = member_headers(make_member(), **{"Idempotency-Key": "k-race"})
    results: list[requests.Response] = []
    barrier = threading.Barrier(10)

    def call():
        barrier.wait()
        results.append(requests.post(url, json={"sleep": 0.3}, headers=headers, timeout=10))

    threads = [threading.Thread(target=call) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.shutdown()
    assert executions() == 1
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    for r in results:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "idempotency.in_progress"
            assert r.headers["Retry-After"] == "1"
