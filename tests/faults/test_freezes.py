"""PostgreSQL or Redis frozen (SIGSTOP) while gunicorn serves: unlike a server that is down, a
frozen one keeps every connection open and never answers, so only the client's own time limits
end a request. Each request answers 503 service.unavailable within seconds, /healthz within about
two, the service recovers by itself after SIGCONT, and nothing accepted is lost or granted twice.
The servers are this package's own (tests/faults/conftest.py): the machine's are never touched."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import func, select

from tests.conftest import ledger_invariants
from tests.faults.conftest import gunicorn, scheduler
from tests.faults.test_restarts import _assert_scheduler_survived, _forget_dead_connection

pytestmark = pytest.mark.faults

FREEZE_SECONDS = 20
# Before any time limit, every request ran into this (the client's own): it stands for "hung".
CLIENT_TIMEOUT = 15
REQUEST_BOUND = 8.0  # what a request may take while a dependency is frozen
HEALTH_BOUND = 2.5  # what /healthz may take
REPORT: dict[str, str] = {}


@dataclass
class Answer:
    what: str
    status: int | str  # the HTTP status, or "timeout" when the client gave up
    code: str | None
    seconds: float


def _ask(session: requests.Session, what: str, method: str, url: str, **kwargs) -> Answer:
    started = time.monotonic()
    try:
        response = session.request(method, url, timeout=CLIENT_TIMEOUT, **kwargs)
    except requests.RequestException:
        return Answer(what, "timeout", None, time.monotonic() - started)
    code = None
    if response.status_code >= 400:
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = None
    return Answer(what, response.status_code, code, time.monotonic() - started)


def _keep_asking(until: float, answers: list[Answer], what: str, method: str, url: str, **kw):
    """Ask again and again until `until` (each question as soon as the last was answered)."""
    session = requests.Session()
    while time.monotonic() < until:
        answers.append(_ask(session, what, method, url, **kw))
        time.sleep(0.2)


def _during(until: float, questions: list[tuple]) -> list[Answer]:
    answers: list[Answer] = []
    threads = [
        threading.Thread(target=_keep_asking, args=(until, answers, *q[:3]), kwargs=q[3])
        for q in questions
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=CLIENT_TIMEOUT + FREEZE_SECONDS + 10)
    return answers


def _figures(answers: list[Answer]) -> str:
    out = []
    for what in sorted({a.what for a in answers}):
        mine = [a for a in answers if a.what == what]
        statuses = sorted({str(a.status) for a in mine})
        slowest = max(a.seconds for a in mine)
        out.append(f"{what}: {len(mine)}x {'/'.join(statuses)}, slowest {slowest:.2f}s")
    return "; ".join(out)


def _until_ok(session: requests.Session, method: str, url: str, seconds: float, **kw) -> tuple:
    """Retry (same request) until 2xx; returns (response, seconds it took)."""
    started = time.monotonic()
    while True:
        try:
            response = session.request(method, url, timeout=10, **kw)
            if response.status_code < 300:
                return response, time.monotonic() - started
        except requests.RequestException:
            response = None
        if time.monotonic() - started > seconds:
            return response, time.monotonic() - started
        time.sleep(0.3)


@pytest.fixture
def till(fault_app, make_store, make_staff, make_member, member_headers, staff_headers):
    store = make_store()
    member = make_member(store=store)
    return {
        "member_id": member.id,
        "member": member_headers(member),
        "clerk": staff_headers(make_staff("clerk", store=store)),
    }


def _scan(base: str, till) -> str:
    code = requests.get(base + "/api/v1/me/member-code", headers=till["member"], timeout=10)
    scan = requests.post(
        base + "/staff/v1/scans",
        json={"member_code": code.json()["code"]},
        headers=till["clerk"],
        timeout=10,
    )
    assert scan.status_code == 201, scan.text
    return scan.json()["scan_id"]


def _purchase(till, scan_id: str, order_no: str, key: str) -> dict:
    return {
        "json": {"scan_id": scan_id, "order_no": order_no, "amount_fen": 12_300},
        "headers": {**till["clerk"], "Idempotency-Key": key},
    }


def test_frozen_postgres_answers_503_fast_and_recovers(fault_app, session, till, private_postgres):
    from app.models.till import Purchase

    with gunicorn(fault_app) as base, scheduler(fault_app) as sched:
        scan_id = _scan(base, till)
        before = requests.post(
            base + "/staff/v1/purchases", **_purchase(till, scan_id, "FZ-1", "fz-key-1"), timeout=10
        )
        assert before.status_code == 201, before.text
        for _ in range(8):  # every worker's pool holds a connection or two
            requests.get(base + "/api/v1/me", headers=till["member"], timeout=10)
        time.sleep(1.2)  # idle long enough to be pinged at checkout (app/db_pool.py)

        private_postgres.freeze()
        try:
            frozen_at = time.monotonic()
            during = _during(
                frozen_at + FREEZE_SECONDS - CLIENT_TIMEOUT / 2,
                [
                    ("GET /me", "GET", base + "/api/v1/me", {"headers": till["member"]}),
                    (
                        "POST purchase",
                        "POST",
                        base + "/staff/v1/purchases",
                        _purchase(till, scan_id, "FZ-2", "fz-key-2"),
                    ),
                    ("GET /healthz", "GET", base + "/healthz", {}),
                ],
            )
            time.sleep(max(0.0, frozen_at + FREEZE_SECONDS - time.monotonic()))
        finally:
            private_postgres.thaw()
        thawed_at, thawed_wall = time.monotonic(), time.time()

        replay = requests.Session()
        me, me_after = _until_ok(replay, "GET", base + "/api/v1/me", 30, headers=till["member"])
        health, health_after = _until_ok(replay, "GET", base + "/healthz", 30)
        again, _ = _until_ok(
            replay,
            "POST",
            base + "/staff/v1/purchases",
            30,
            **_purchase(till, scan_id, "FZ-2", "fz-key-2"),
        )
        REPORT["postgres"] = (
            f"frozen {FREEZE_SECONDS}s: {_figures(during)}; after SIGCONT /me 200 in "
            f"{me_after:.1f}s, /healthz 200 in {health_after:.1f}s"
        )
        print("\n[faults] postgres frozen:", REPORT["postgres"])

        assert me is not None and me.status_code == 200
        assert health is not None and health.status_code == 200, health and health.text
        assert again is not None and again.status_code == 201, again and again.text
        for answer in during:
            assert answer.status == 503, answer
            if answer.what != "GET /healthz":  # whose body says which dependency is down
                assert answer.code == "service.unavailable", answer
            bound = HEALTH_BOUND if answer.what == "GET /healthz" else REQUEST_BOUND
            assert answer.seconds < bound, f"{answer.what} took {answer.seconds:.1f}s while frozen"
        assert {a.what for a in during} == {"GET /me", "POST purchase", "GET /healthz"}
        assert time.monotonic() - thawed_at < 60

        # Nothing lost, nothing twice: both purchases once, the points of both once.
        _forget_dead_connection(session)
        orders = session.execute(select(Purchase.order_no, Purchase.points_awarded)).all()
        assert sorted(o for o, _ in orders) == ["FZ-1", "FZ-2"]
        assert again.json()["points_awarded"] == dict(orders)["FZ-2"]
        balance = ledger_invariants(session, till["member_id"])
        assert balance == sum(p for _, p in orders)
        assert session.scalar(select(func.count()).select_from(Purchase)) == 2
        _assert_scheduler_survived(session, sched, thawed_wall)


def test_frozen_redis_answers_503_fast_and_recovers(fault_app, session, till, private_redis):
    from app.models.till import Purchase

    with gunicorn(fault_app) as base:
        scan_id = _scan(base, till)
        for _ in range(8):
            requests.get(base + "/healthz", timeout=10)

        private_redis.freeze()
        try:
            frozen_at = time.monotonic()
            during = _during(
                frozen_at + FREEZE_SECONDS - CLIENT_TIMEOUT / 2,
                [
                    (
                        "GET member-code",
                        "GET",
                        base + "/api/v1/me/member-code",
                        {"headers": till["member"]},
                    ),
                    (
                        "POST scan",
                        "POST",
                        base + "/staff/v1/scans",
                        {"json": {"member_code": "660000000000000000"}, "headers": till["clerk"]},
                    ),
                    ("GET /healthz", "GET", base + "/healthz", {}),
                    # A purchase needs no Redis: it goes on while Redis is frozen.
                    (
                        "POST purchase",
                        "POST",
                        base + "/staff/v1/purchases",
                        _purchase(till, scan_id, "FR-1", "fr-key-1"),
                    ),
                ],
            )
            time.sleep(max(0.0, frozen_at + FREEZE_SECONDS - time.monotonic()))
        finally:
            private_redis.thaw()

        replay = requests.Session()
        code, code_after = _until_ok(
            replay, "GET", base + "/api/v1/me/member-code", 30, headers=till["member"]
        )
        health, health_after = _until_ok(replay, "GET", base + "/healthz", 30)
        REPORT["redis"] = (
            f"frozen {FREEZE_SECONDS}s: {_figures(during)}; after SIGCONT member code 200 in "
            f"{code_after:.1f}s, /healthz 200 in {health_after:.1f}s"
        )
        print("\n[faults] redis frozen:", REPORT["redis"])

        assert code is not None and code.status_code == 200
        assert health is not None and health.status_code == 200
        for answer in during:
            bound = HEALTH_BOUND if answer.what == "GET /healthz" else REQUEST_BOUND
            assert answer.seconds < bound, f"{answer.what} took {answer.seconds:.1f}s while frozen"
            if answer.what == "POST purchase":
                assert answer.status in (200, 201), answer
            else:
                assert answer.status == 503, answer
                if answer.what != "GET /healthz":
                    assert answer.code == "service.unavailable", answer
        assert {a.what for a in during} >= {"GET member-code", "POST scan", "GET /healthz"}

        _forget_dead_connection(session)
        assert [p.order_no for p in session.execute(select(Purchase)).scalars()] == ["FR-1"]
        ledger_invariants(session, till["member_id"])
