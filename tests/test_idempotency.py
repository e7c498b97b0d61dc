"""The one Idempotency-Key mechanism, on a test-only endpoint that counts its real executions."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select, update

from app.auth import member_required
from app.errors import AppError, ServiceUnavailable
from app.extensions import get_redis, rkey
from app.idempotency import idempotent
from app.models.idempotency import IdempotencyKey
from tests.conftest import ledger_invariants
from tests.engagement_factories import NO_PRIZE

pytest_plugins = ["tests.engagement_factories"]

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
        if get_redis().get(rkey("test", "down")):  # a dependency is down: 503 for now
            raise ServiceUnavailable("database")
        if body.get("commit"):
            from app.extensions import db

            db.session.commit()  # what a service must not do: the entry point commits
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


def test_a_commit_inside_the_work_is_refused_and_stores_nothing(
    idem_client, make_member, member_headers
):
    headers = member_headers(make_member(), **{"Idempotency-Key": "k-commit"})
    first = idem_client.post("/_test/moves", json={"commit": True}, headers=headers)
    assert first.status_code == 500
    again = idem_client.post("/_test/moves", json={"commit": True}, headers=headers)
    assert again.status_code == 500 and "Idempotent-Replayed" not in again.headers
    assert executions() == 2


def test_a_key_left_pending_by_the_old_mechanism_is_taken_over(
    idem_client, session, make_member, member_headers
):
    headers = member_headers(make_member(), **{"Idempotency-Key": "k-legacy"})
    idem_client.post("/_test/moves", json={"amount": 1}, headers=headers)
    session.execute(update(IdempotencyKey).values(state="pending", response_body=None))
    session.commit()
    again = idem_client.post("/_test/moves", json={"amount": 1}, headers=headers)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert again.get_json()["executions"] == 2
    third = idem_client.post("/_test/moves", json={"amount": 1}, headers=headers)
    assert third.headers["Idempotent-Replayed"] == "true"
    assert third.get_json() == again.get_json()


# ---- on real endpoints: the key and the work commit together ------------------------------


def _adjust(client, staff_headers, manager, member, delta: int, key: str):
    return client.post(
        f"/staff/v1/members/{member.id}/points/adjustments",
        json={"delta": delta, "reason": "补录"},
        headers=staff_headers(manager, **{"Idempotency-Key": key}),
    )


def test_same_key_other_body_on_an_adjustment_moves_nothing_more(
    client, session, make_store, make_staff, make_member, staff_headers
):
    store = make_store()
    manager = make_staff("manager", store=store)
    member = make_member(store=store)
    first = _adjust(client, staff_headers, manager, member, 500, "adj-1")
    assert first.status_code == 201
    other = _adjust(client, staff_headers, manager, member, 400, "adj-1")
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency.mismatch"
    same = _adjust(client, staff_headers, manager, member, 500, "adj-1")
    assert same.headers["Idempotent-Replayed"] == "true"
    assert same.get_json() == first.get_json()
    assert ledger_invariants(session, member.id) == 500


def test_a_refusal_is_stored_and_what_the_work_did_before_it_is_undone(
    client, session, make_member, member_headers, grant, make_lottery
):
    """A draw the member cannot pay for: its daily allowance was counted before the ledger
    refused; the refusal is stored under the key, the count is not."""
    from app.models.lottery import LotteryDrawAllowance

    lottery = make_lottery(NO_PRIZE, cost_points=30)
    member = make_member()
    headers = member_headers(member, **{"Idempotency-Key": "draw-poor"})
    path = f"/api/v1/lotteries/{lottery.id}/draws"
    refused = client.post(path, headers=headers)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "points.insufficient"
    allowance = select(LotteryDrawAllowance.used).where(LotteryDrawAllowance.member_id == member.id)
    assert session.scalar(allowance) is None
    grant(member, 100)
    # The key's answer is the refusal (Stripe's semantics); a new key draws.
    again = client.post(path, headers=headers)
    assert again.status_code == 409 and again.headers["Idempotent-Replayed"] == "true"
    drawn = client.post(path, headers=member_headers(member, **{"Idempotency-Key": "draw-2"}))
    assert drawn.status_code == 201 and drawn.get_json()["balance"] == 70
    assert session.scalar(allowance) == 1


def test_concurrent_adjustments_with_one_key_add_500_once(
    live_server, session, make_store, make_staff, make_member, staff_headers
):
    store = make_store()
    manager = make_staff("manager", store=store)
    member = make_member(store=store)
    url = f"{live_server}/staff/v1/members/{member.id}/points/adjustments"
    headers = staff_headers(manager, **{"Idempotency-Key": "adj-race"})
    results: list[requests.Response] = []
    barrier = threading.Barrier(12)

    def call():
        barrier.wait()
        body = {"delta": 500, "reason": "补录"}
        results.append(requests.post(url, json=body, headers=headers, timeout=20))

    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger_invariants(session, member.id) == 500
    answered = [r for r in results if r.status_code == 201]
    assert answered and all(r.json() == answered[0].json() for r in answered)
    assert sum("Idempotent-Replayed" not in r.headers for r in answered) == 1
    for r in results:
        if r.status_code != 201:
            assert r.status_code == 409, r.text
            assert r.json()["error"]["code"] == "idempotency.in_progress"
    after = requests.post(url, json={"delta": 500, "reason": "补录"}, headers=headers, timeout=20)
    assert after.headers["Idempotent-Replayed"] == "true"
    assert after.json() == answered[0].json()


# ---- issue 14: what is stored, what is replayed, and what a rate limit does to a replay --------


def test_a_5xx_is_not_stored_so_the_retry_after_the_outage_runs(
    idem_client, make_member, member_headers
):
    headers = member_headers(make_member(), **{"Idempotency-Key": "k-503"})
    get_redis().set(rkey("test", "down"), 1)
    down = idem_client.post("/_test/moves", json={"amount": 3}, headers=headers)
    assert down.status_code == 503
    assert down.get_json()["error"]["code"] == "service.unavailable"
    get_redis().delete(rkey("test", "down"))
    retried = idem_client.post("/_test/moves", json={"amount": 3}, headers=headers)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert retried.get_json() == {"executions": 2, "amount": 3}


def test_a_key_whose_connection_was_cut_mid_work_is_free_for_the_retry_at_once(
    idem_app, session, make_member, member_headers
):
    """The database drops the connection of a request that holds a key (an outage, as a
    restart or a network cut does): the retry runs at once, never 409 in_progress."""
    from sqlalchemy import text

    headers = member_headers(make_member(), **{"Idempotency-Key": "k-cut"})
    first = {}

    def slow():
        first["r"] = idem_app.test_client().post(
            "/_test/moves", json={"amount": 1, "sleep": 2}, headers=headers
        )

    thread = threading.Thread(target=slow)
    thread.start()
    holder = text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    deadline = time.monotonic() + 5
    while not (pids := session.execute(holder).scalars().all()):
        session.rollback()
        assert time.monotonic() < deadline, "the first request never claimed its key"
        time.sleep(0.02)
    session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})
    session.rollback()
    started = time.monotonic()
    retried = idem_app.test_client().post(
        "/_test/moves", json={"amount": 1, "sleep": 2}, headers=headers
    )
    waited = time.monotonic() - started
    thread.join(10)
    assert retried.status_code == 201, retried.get_json()
    assert "Idempotent-Replayed" not in retried.headers
    assert waited < 5
    assert first["r"].status_code == 503  # its work went with its connection
    replay = idem_app.test_client().post(
        "/_test/moves", json={"amount": 1, "sleep": 2}, headers=headers
    )
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == retried.get_json()


def _draw(client, member_headers, member, lottery_id, key):
    return client.post(
        f"/api/v1/lotteries/{lottery_id}/draws",
        headers=member_headers(member, **{"Idempotency-Key": key}),
    )


def test_a_replayed_draw_gets_its_answer_even_when_the_rate_limit_is_spent(
    client, make_member, member_headers, make_lottery, grant
):
    from app.api.lotteries import DRAW_RATE

    member = make_member()
    grant(member, 1000)
    lottery = make_lottery(NO_PRIZE, daily_draw_limit=50)
    first = _draw(client, member_headers, member, lottery.id, "draw-0")
    assert first.status_code == 201
    taps = int(DRAW_RATE.split("/")[0])
    for n in range(1, taps):
        assert _draw(client, member_headers, member, lottery.id, f"draw-{n}").status_code == 201
    limited = _draw(client, member_headers, member, lottery.id, "draw-over")
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate.limited"
    replay = _draw(client, member_headers, member, lottery.id, "draw-0")
    assert replay.status_code == 201, replay.get_json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    # The refused tap stored nothing: once the window is over, its key runs the draw.
    redis = get_redis()
    for name in redis.scan_iter(match="*" + rkey("rl") + "*"):
        redis.delete(name)
    later = _draw(client, member_headers, member, lottery.id, "draw-over")
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers


def test_a_stored_refusal_replays_with_its_retry_after(
    client, make_member, member_headers, make_lottery, grant
):
    member = make_member()
    grant(member, 100)
    lottery = make_lottery(NO_PRIZE, daily_draw_limit=1)
    assert _draw(client, member_headers, member, lottery.id, "once").status_code == 201
    refused = _draw(client, member_headers, member, lottery.id, "twice")
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "lottery.daily_limit"
    assert int(refused.headers["Retry-After"]) > 0
    replay = _draw(client, member_headers, member, lottery.id, "twice")
    assert replay.status_code == 429 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == refused.get_json()
    assert replay.headers.get("Retry-After") == refused.headers["Retry-After"]


def test_rate_limit_keys_live_under_the_redis_key_prefix(
    app, client, make_member, member_headers, make_lottery, grant
):
    member = make_member()
    grant(member, 100)
    lottery = make_lottery(NO_PRIZE)
    assert _draw(client, member_headers, member, lottery.id, "rl-1").status_code == 201
    client.post("/api/v1/auth/login", json={"code": "test:prefix"})  # Flask-Limiter's own limit
    prefix = app.config["REDIS_KEY_PREFIX"]
    # This session's prefix is unique: every key that names it is this app's.
    keys = list(get_redis().scan_iter(match=f"*{prefix}*", count=1000))
    limits = [k for k in keys if "draw:" in k or "login" in k.lower() or "LIMITER" in k]
    assert limits, keys
    # (RQ names its own keys `rq:...` whatever the queue is called; those are not rate limits.)
    assert [k for k in limits if not k.startswith(prefix)] == []
