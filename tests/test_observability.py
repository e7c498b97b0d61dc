"""What operations sees: Prometheus counters for job runs, messages and WeChat errors by code,
and JSON log lines that carry the request id."""

from __future__ import annotations

import io
import json
import logging

import requests

from app.logging import JsonFormatter
from app.metrics import count_delivery
from jobs.cli import jobs_cli


def _sample(text: str, name: str, **labels) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _metrics(client) -> str:
    return client.get("/metrics").get_data(as_text=True)


def test_job_runs_are_counted_by_job_and_outcome(app, client):
    before = _sample(_metrics(client), "huiyuan_job_runs_total", job="idempotency_purge")
    result = app.test_cli_runner().invoke(jobs_cli, args=["run-once", "idempotency_purge"])
    assert result.exit_code == 0, result.output
    after = _sample(
        _metrics(client), "huiyuan_job_runs_total", job="idempotency_purge", outcome="ok"
    )
    assert after >= before + 1


def test_messages_sent_and_failed_are_counted_by_channel_and_purpose(client):
    name_sent, name_failed = "huiyuan_messages_sent_total", "huiyuan_messages_failed_total"
    labels = {"channel": "subscribe", "purpose": "points_expiry"}
    sent = _sample(_metrics(client), name_sent, **labels)
    failed = _sample(_metrics(client), name_failed, outcome="failed", **labels)
    count_delivery("subscribe", "points_expiry", "sent")
    count_delivery("subscribe", "points_expiry", "sent")
    count_delivery("subscribe", "points_expiry", "failed")
    count_delivery("subscribe", "points_expiry", "skipped")  # not a send: neither counter
    text = _metrics(client)
    assert _sample(text, name_sent, **labels) == sent + 2
    assert _sample(text, name_failed, outcome="failed", **labels) == failed + 1
    assert _sample(text, "huiyuan_messages_total", channel="subscribe", outcome="skipped") >= 1


def test_wechat_errors_are_counted_by_api_and_errcode(client, live_server):
    base = live_server + "/_sandbox/wechat"
    name = "huiyuan_wechat_errors_total"
    before = _sample(_metrics(client), name, api="jscode2session", errcode="40029")
    requests.post(
        base + "/faults", json={"api": "jscode2session", "errcode": 40029, "times": 1}, timeout=5
    )
    response = client.post("/api/v1/auth/login", json={"code": "test:erin"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "wechat.invalid_code"
    after = _sample(_metrics(client), name, api="jscode2session", errcode="40029")
    assert after == before + 1


def test_log_lines_are_json_and_carry_the_request_id(client, make_member, member_headers):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("huiyuan")
    logger.addHandler(handler)
    # Alembic's fileConfig (the migration tests run `db upgrade` in this process) disables the
    # loggers that exist at that moment; the service never migrates inside a serving process.
    access_logger = logging.getLogger("huiyuan.request")
    was_disabled, access_logger.disabled = access_logger.disabled, False
    try:
        member = make_member()
        given = client.get(
            "/api/v1/me", headers={**member_headers(member), "X-Request-Id": "till-7-abc"}
        )
        minted = client.get("/api/v1/me", headers=member_headers(member))
        refused = client.get(
            "/api/v1/me", headers={"X-Request-Id": "bad id with spaces and \u202e"}
        )
    finally:
        logger.removeHandler(handler)
        access_logger.disabled = was_disabled
    assert given.headers["X-Request-Id"] == "till-7-abc"
    assert len(minted.headers["X-Request-Id"]) == 32
    assert refused.headers["X-Request-Id"] != "bad id with spaces and \u202e"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "huiyuan.request"]
    ids = [line["request_id"] for line in access]
    assert ids == [
        "till-7-abc",
        minted.headers["X-Request-Id"],
        refused.headers["X-Request-Id"],
    ]
    assert access[0]["http"]["status"] == 200 and access[0]["http"]["actor"] == (
        f"member:{member.id}"
    )
    assert access[2]["http"]["status"] == 401
