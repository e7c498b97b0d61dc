"""The production layout: two gunicorn instances (several workers each) on one PostgreSQL and
one Redis behave as one service. Nothing may assume a single process: member codes, scans,
Idempotency-Keys, rate limits and metrics work across workers and instances."""

from __future__ import annotations

import secrets

import requests

from tests.faults.conftest import gunicorn


def _sample(text: str, name: str, **labels) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_two_instances_behave_as_one_service(
    app, tmp_path, make_store, make_staff, make_member, member_headers, staff_headers
):
    store = make_store()
    clerk = staff_headers(make_staff("clerk", store=store))
    member = make_member(store=store)
    shopper = member_headers(member)
    metrics_a = tmp_path / "metrics-a"
    metrics_a.mkdir()
    with (
        gunicorn(app, workers=3, threads=2, PROMETHEUS_MULTIPROC_DIR=str(metrics_a)) as a,
        gunicorn(app, workers=2, threads=2) as b,
    ):
        # A member code shown by one instance is scanned at another, once.
        code = requests.get(a + "/api/v1/me/member-code", headers=shopper, timeout=10).json()
        first = requests.post(
            b + "/staff/v1/scans", json={"member_code": code["code"]}, headers=clerk, timeout=10
        )
        assert first.status_code == 201, first.text
        again = requests.post(
            a + "/staff/v1/scans", json={"member_code": code["code"]}, headers=clerk, timeout=10
        )
        assert again.status_code == 409 and again.json()["error"]["code"] == "member_code.used"
        # A purchase retried against the other instance is replayed, not earned twice.
        key = secrets.token_hex(8)
        body = {"scan_id": first.json()["scan_id"], "order_no": "SO-1", "amount_fen": 12_300}
        paid = requests.post(
            a + "/staff/v1/purchases",
            json=body,
            headers={**clerk, "Idempotency-Key": key},
            timeout=10,
        )
        assert paid.status_code == 201, paid.text
        retried = requests.post(
            b + "/staff/v1/purchases",
            json=body,
            headers={**clerk, "Idempotency-Key": key},
            timeout=10,
        )
        assert retried.headers.get("Idempotent-Replayed") == "true"
        assert retried.json() == paid.json()
        me = requests.get(b + "/api/v1/me", headers=shopper, timeout=10).json()
        assert me["points"]["balance"] == paid.json()["points_awarded"] > 0
        # The scan limit (60 a minute per clerk) counts scans at every instance together.
        garbage = {"member_code": "660000000000000000"}
        statuses = [
            requests.post(
                (a, b)[i % 2] + "/staff/v1/scans", json=garbage, headers=clerk, timeout=10
            ).status_code
            for i in range(60)
        ]
        assert statuses.count(429) == 2, statuses  # the two good scans above counted too
        # /metrics of instance A counts the requests of all its workers.
        session = requests.Session()
        for _ in range(30):
            session.get(a + "/healthz", timeout=10)
        text = requests.get(a + "/metrics", timeout=10).text
        assert _sample(text, "huiyuan_http_requests_total", endpoint="/healthz", status="200") >= 30
        assert len({p.name.split("_")[-1] for p in metrics_a.glob("*.db")}) >= 2, (
            "the requests were served by more than one worker"
        )
