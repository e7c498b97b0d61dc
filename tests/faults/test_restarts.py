"""PostgreSQL and Redis go down and come back while gunicorn serves check-ins and purchases and
the scheduler runs: requests fail fast with 503 service.unavailable, the service recovers by
itself, no accepted write is lost and no value is granted twice. The servers are this package's
own (tests/faults/conftest.py): the machine's are never stopped."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time

import pytest
import requests
from sqlalchemy import func, select

from tests.conftest import ledger_invariants
from tests.faults.conftest import gunicorn, scheduler
from tests.faults.load import FAIL_FAST_SECONDS, Intent, Load, summary

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 4
MEMBERS = 80
CLERKS = 4  # scans are limited to 60 a minute per clerk
REPORT: dict[str, str] = {}


@pytest.fixture
def shop(fault_app, make_store, make_staff, make_member, member_headers, staff_headers):
    store = make_store()
    clerks = [staff_headers(make_staff("clerk", store=store)) for _ in range(CLERKS)]
    members = [make_member(store=store) for _ in range(MEMBERS)]
    return {
        "store": store,
        "clerk": clerks[0],
        "clerk_of": {m.id: clerks[n % CLERKS] for n, m in enumerate(members)},
        "members": [(m.id, member_headers(m)) for m in members],
    }


def _scan_all(base: str, shop) -> dict[int, str]:
    """A scan per member, made before the fault (scans need Redis; purchases do not)."""
    scans = {}
    session = requests.Session()
    for member_id, headers in shop["members"]:
        code = session.get(base + "/api/v1/me/member-code", headers=headers, timeout=10).json()
        scan = session.post(
            base + "/staff/v1/scans",
            json={"member_code": code["code"]},
            headers=shop["clerk_of"][member_id],
            timeout=10,
        )
        assert scan.status_code == 201, scan.text
        scans[member_id] = scan.json()["scan_id"]
    return scans


def _intent_maker(shop, scans):
    """Alternately a member's check-in (once per member) and a purchase (unique order)."""
    members = itertools.cycle(shop["members"])
    checked_in: set[int] = set()
    orders = itertools.count(1)
    lock = threading.Lock()

    def make() -> Intent:
        with lock:
            member_id, headers = next(members)
            if member_id not in checked_in:
                checked_in.add(member_id)
                return Intent(
                    "checkin",
                    member_id,
                    "POST",
                    "/api/v1/checkins",
                    headers,
                    done_code="checkin.already_done",
                )
            order = next(orders)
        return Intent(
            "purchase",
            member_id,
            "POST",
            "/staff/v1/purchases",
            shop["clerk_of"][member_id],
            {"scan_id": scans[member_id], "order_no": f"F-{order}", "amount_fen": 1_000 + order},
        )

    return make


def _verify_nothing_lost_nothing_twice(session, load: Load, base: str) -> None:
    from app.models import Member
    from app.models.checkin import Checkin
    from app.models.points import PointEntry
    from app.models.till import Purchase

    accepted = [i for i in load.intents if i.accepted is not None]
    _forget_dead_connection(session)
    # Every accepted write is in the database.
    purchases = {p.order_no: p for p in session.execute(select(Purchase)).scalars()}
    checkins = {c.member_id for c in session.execute(select(Checkin)).scalars()}
    expected_points: dict[int, int] = {}
    for intent in accepted:
        if intent.kind == "purchase":
            stored = purchases.get(intent.json["order_no"])
            assert stored is not None, f"accepted purchase {intent.json['order_no']} was lost"
            assert stored.points_awarded == intent.accepted["points_awarded"]
            gained = intent.accepted["points_awarded"]
        else:
            assert intent.member_id in checkins, f"accepted check-in of {intent.member_id} lost"
            rewards = session.execute(
                select(PointEntry.delta).where(
                    PointEntry.member_id == intent.member_id, PointEntry.reason == "checkin"
                )
            ).scalars()
            rewards = list(rewards)
            assert len(rewards) == 1, f"member {intent.member_id} rewarded {rewards} for one day"
            if "already_done" not in intent.accepted:
                assert rewards == [intent.accepted["points_awarded"]]
            gained = rewards[0]
        expected_points[intent.member_id] = expected_points.get(intent.member_id, 0) + gained
    assert len(purchases) == sum(1 for i in accepted if i.kind == "purchase"), "a stray purchase"
    # No value granted twice: each balance is exactly what the accepted answers said, and the
    # ledger invariants hold for every member in the database.
    for member_id in session.execute(select(Member.id)).scalars():
        balance = ledger_invariants(session, member_id)
        assert balance == expected_points.get(member_id, 0), f"member {member_id}"
    # Sending every write again with its key changes nothing and answers the same.
    replay = requests.Session()
    answered = [i for i in accepted if "already_done" not in i.accepted]
    for intent in answered[:: max(1, len(answered) // 40)]:
        again = replay.request(
            intent.method,
            base + intent.path,
            json=intent.json,
            headers={**intent.headers, "Idempotency-Key": intent.key},
            timeout=10,
        )
        assert again.status_code in (200, 201), again.text
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == intent.accepted
    total = session.scalar(select(func.coalesce(func.sum(Member.points_balance), 0)))
    assert total == sum(expected_points.values())


def _forget_dead_connection(session) -> None:
    """The test's own session may hold a connection from before the restart."""
    with contextlib.suppress(Exception):
        session.rollback()
    session.close()


def _tick_slots(session) -> list[int]:
    from app.models.jobs import JobRun

    session.expire_all()
    runs = session.execute(select(JobRun).where(JobRun.name == "test_tick", JobRun.outcome == "ok"))
    return [int(r.started_at.timestamp()) // 2 for r in runs.scalars()]


def _assert_scheduler_survived(session, proc, restored_at: float) -> None:
    deadline = time.time() + 25
    while time.time() < deadline:
        later = [s for s in _tick_slots(session) if s * 2 >= restored_at]
        if later:
            break
        time.sleep(0.5)
    assert proc.poll() is None, "the scheduler process died"
    assert later, "the scheduler did not run its job again after the outage"
    slots = _tick_slots(session)
    assert len(slots) == len(set(slots)), "a scheduled run happened twice"


def test_postgres_restart_under_load(fault_app, session, shop, private_postgres):
    with gunicorn(fault_app) as base, scheduler(fault_app) as sched:
        scans = _scan_all(base, shop)
        load = Load(base, _intent_maker(shop, scans))
        load.start()
        time.sleep(2)
        down_at = time.monotonic()
        try:
            private_postgres.stop()
            time.sleep(OUTAGE_SECONDS)
        finally:
            private_postgres.start()
        up_at, up_wall = time.monotonic(), time.time()
        time.sleep(2)
        load.stop_new()
        recovered = load.drain(timeout=40)

        during = load.between(down_at, up_at)
        first_ok = min(
            (i.accepted_at for i in load.intents if (i.accepted_at or 0) > up_at), default=None
        )
        REPORT["postgres"] = (
            f"{len(load.intents)} writes; while down: {summary(during)}; "
            f"first write accepted {first_ok - up_at if first_ok else float('nan'):.1f}s "
            "after restart"
        )
        print("\n[faults] postgres restart:", REPORT["postgres"])
        assert not load.unexpected, load.unexpected[:5]
        assert recovered, "some writes were never accepted after PostgreSQL came back"
        assert any(o.status == 503 for o in during), "no request saw the outage"
        for o in during:
            assert o.status in (503, 201) or o.code == "checkin.already_done", o
            assert o.status != 503 or o.code == "service.unavailable", o
            assert o.seconds < FAIL_FAST_SECONDS, f"{o.path} took {o.seconds:.1f}s while down"
        assert all(o.status != 500 for o in load.observations)
        assert requests.get(base + "/healthz", timeout=5).status_code == 200
        _verify_nothing_lost_nothing_twice(session, load, base)
        _assert_scheduler_survived(session, sched, up_wall)


def test_redis_restart_under_load(fault_app, session, shop, private_redis):
    with gunicorn(fault_app) as base, scheduler(fault_app) as sched:
        scans = _scan_all(base, shop)
        load = Load(base, _intent_maker(shop, scans))
        load.start()
        time.sleep(2)
        member_id, headers = shop["members"][0]
        down_at = time.monotonic()
        try:
            private_redis.stop()
            # What needs Redis (the member code, rate-limited scans) answers 503 fast.
            started = time.monotonic()
            code = requests.get(base + "/api/v1/me/member-code", headers=headers, timeout=15)
            code_seconds = time.monotonic() - started
            scan = requests.post(
                base + "/staff/v1/scans",
                json={"member_code": "660000000000000000"},
                headers=shop["clerk"],
                timeout=15,
            )
            time.sleep(OUTAGE_SECONDS)
        finally:
            private_redis.start()
        up_at, up_wall = time.monotonic(), time.time()
        time.sleep(2)
        load.stop_new()
        recovered = load.drain(timeout=40)

        during = load.between(down_at, up_at)
        REPORT["redis"] = (
            f"{len(load.intents)} writes; while down: {summary(during)}; "
            f"member code {code.status_code} in {code_seconds:.2f}s, scan {scan.status_code}"
        )
        print("\n[faults] redis restart:", REPORT["redis"])
        assert not load.unexpected, load.unexpected[:5]
        assert recovered
        assert code.status_code == 503 and code.json()["error"]["code"] == "service.unavailable"
        assert code_seconds < FAIL_FAST_SECONDS
        assert scan.status_code == 503
        # Check-ins and purchases do not need Redis: they went on during the outage.
        assert any(o.status == 201 for o in during), summary(during)
        for o in during:
            assert o.status in (201, 503), o
            assert o.seconds < FAIL_FAST_SECONDS, o
        # Back to normal without restarting anything.
        again = requests.get(base + "/api/v1/me/member-code", headers=headers, timeout=10)
        assert again.status_code == 200, again.text
        assert requests.get(base + "/healthz", timeout=5).json()["redis"] == "ok"
        _verify_nothing_lost_nothing_twice(session, load, base)
        _assert_scheduler_survived(session, sched, up_wall)
