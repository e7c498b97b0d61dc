"""The sandbox clock is one clock: once PUT /_sandbox/clock has answered, the next request to any
gunicorn worker, the scheduler process and a `jobs run-once` from another process see the new time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import select

from app.models.jobs import JobRun
from tests.conftest import sandbox_process_env
from tests.faults.conftest import gunicorn

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _put_clock(base: str, instant: datetime) -> dict:
    answer = requests.put(base + "/_sandbox/clock", json={"now": instant.isoformat()}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _clock_views(base: str, n: int) -> list[dict]:
    """GET /_sandbox/clock n times at once, each on its own connection (so on several workers)."""
    with ThreadPoolExecutor(n) as pool:
        answers = list(
            pool.map(lambda _: requests.get(base + "/_sandbox/clock", timeout=10), range(n))
        )
    assert all(a.status_code == 200 for a in answers)
    return [a.json() for a in answers]


def test_get_answers_the_instant_its_offset_and_the_business_day(client):
    put = client.put("/_sandbox/clock", json={"now": "2031-01-01T23:59:30+08:00"}).get_json()
    assert put["business_date"] == "2031-01-01"
    got = client.get("/_sandbox/clock").get_json()
    assert set(got) == {"now", "offset_seconds", "business_date"}
    assert got["business_date"] == "2031-01-01"
    instant = datetime.fromisoformat(got["now"])
    assert (
        timedelta(0)
        <= instant - datetime(2031, 1, 1, 23, 59, 30, tzinfo=SHANGHAI)
        < timedelta(seconds=5)
    )
    assert got["offset_seconds"] > 0
    back = client.delete("/_sandbox/clock").get_json()
    assert back["offset_seconds"] == 0
    assert client.get("/_sandbox/clock").get_json()["business_date"] != "2031-01-01"


def test_the_openapi_document_describes_get_put_and_delete(app):
    # From a fresh SANDBOX app in a child process: flask-smorest's Api is one per process, and
    # other tests re-initialise it with apps of their own.
    dump = (
        "import json; from app import create_app; "
        "a = create_app({'REDIS_URL': None}); "
        "print(json.dumps(a.test_client().get('/openapi.json').get_json()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", dump],
        cwd=ROOT,
        env=sandbox_process_env(app, LOG_PLAIN="1"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spec = json.loads(out.strip().splitlines()[-1])
    item = spec["paths"]["/_sandbox/clock"]
    assert {"get", "put", "delete"} <= set(item)
    state = spec["components"]["schemas"]["ClockState"]["properties"]
    assert {"now", "offset_seconds", "business_date"} <= set(state)
    assert "ClockState" in json.dumps(item["get"]["responses"]["200"])


def test_without_sandbox_the_clock_ignores_redis(app, monkeypatch):
    from app import clock
    from app.extensions import get_redis

    get_redis().set(clock.sandbox_offset_key(), str(10 * 365 * 86400))
    monkeypatch.setitem(app.config, "SANDBOX", False)
    assert abs((clock.now() - datetime.now(SHANGHAI)).total_seconds()) < 5


def test_every_worker_sees_the_new_time_once_put_has_answered(
    app, tmp_path, make_store, make_staff, make_member, member_headers, staff_headers
):
    store = make_store()
    clerk = staff_headers(make_staff("clerk", store=store))
    shopper = member_headers(make_member(store=store))
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    with gunicorn(
        app, workers=4, threads=1, SANDBOX="1", PROMETHEUS_MULTIPROC_DIR=str(metrics)
    ) as base:
        try:
            first = date(2031, 3, 1)
            for n in range(5):
                day = first + timedelta(days=n)
                _clock_views(base, 8)  # every worker has just read the old time
                answer = _put_clock(
                    base, datetime(day.year, day.month, day.day, 10, tzinfo=SHANGHAI)
                )
                assert answer["business_date"] == day.isoformat()
                # The very next requests, on whichever worker, run on the new day.
                assert {v["business_date"] for v in _clock_views(base, 8)} == {day.isoformat()}
                checkin = requests.post(base + "/api/v1/checkins", headers=shopper, timeout=10)
                assert checkin.status_code == 201, checkin.text
                assert (checkin.json()["date"], checkin.json()["streak"]) == (
                    day.isoformat(),
                    n + 1,
                )

            # A member code shown now no longer scans once the clock has moved past its 90 s.
            code = requests.get(base + "/api/v1/me/member-code", headers=shopper, timeout=10).json()
            now = datetime.fromisoformat(
                requests.get(base + "/_sandbox/clock", timeout=10).json()["now"]
            )
            _clock_views(base, 8)
            _put_clock(base, now + timedelta(minutes=2))
            scan = requests.post(
                base + "/staff/v1/scans",
                json={"member_code": code["code"]},
                headers=clerk,
                timeout=10,
            )
            assert scan.status_code == 410, scan.text
            assert scan.json()["error"]["code"] == "member_code.expired"
            fresh = requests.get(
                base + "/api/v1/me/member-code", headers=shopper, timeout=10
            ).json()
            scan = requests.post(
                base + "/staff/v1/scans",
                json={"member_code": fresh["code"]},
                headers=clerk,
                timeout=10,
            )
            assert scan.status_code == 201, scan.text
        finally:
            requests.delete(base + "/_sandbox/clock", timeout=10)
    assert len({p.name.split("_")[-1] for p in metrics.glob("*.db")}) >= 2, (
        "the requests were served by more than one worker"
    )


def _runs(session, name: str) -> list[JobRun]:
    session.expire_all()
    query = select(JobRun).where(JobRun.name == name, JobRun.trigger == "schedule")
    return list(session.execute(query.order_by(JobRun.id)).scalars())


def _wait_for(read, done, seconds: float):
    deadline = time.time() + seconds
    value = read()
    while not done(value) and time.time() < deadline:
        time.sleep(0.3)
        value = read()
    return value


def test_the_scheduler_runs_a_job_when_the_sandbox_clock_passes_its_time(
    app, session, live_server, tmp_path
):
    from app.extensions import get_redis, rkey

    env = sandbox_process_env(app, SCHEDULER_LEASE_SECONDS="3", SCHEDULER_STANDBY_POLL="0.5")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run"],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "scheduler.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        owner = _wait_for(
            lambda: get_redis().get(rkey("scheduler", "lease")) or "",
            lambda o: o.startswith(f"{proc.pid}-"),
            60,
        )
        assert owner.startswith(f"{proc.pid}-"), "the scheduler did not start"
        # idempotency_purge is due at 04:10 business time. A jump over its next (wall-clock)
        # time runs it once, coalesced; then it waits for 04:10 on the sandbox clock.
        _put_clock(live_server, datetime(2031, 5, 10, 4, 9, 56, tzinfo=SHANGHAI))
        due = datetime(2031, 5, 10, 4, 10, tzinfo=SHANGHAI)
        runs = _wait_for(
            lambda: _runs(session, "idempotency_purge"),
            lambda r: any(run.as_of >= due for run in r),
            25,
        )
        on_time = [run for run in runs if run.as_of >= due]
        assert on_time, [r.as_of for r in runs]
        assert on_time[0].as_of - due < timedelta(seconds=5)
        assert len([run for run in runs if run.as_of < due]) <= 1  # the jump: once, not per day

        # Back a day: the next run is counted again from the earlier time.
        before = len(runs)
        _put_clock(live_server, datetime(2031, 5, 9, 4, 9, 57, tzinfo=SHANGHAI))
        earlier = datetime(2031, 5, 9, 4, 10, tzinfo=SHANGHAI)
        runs = _wait_for(
            lambda: _runs(session, "idempotency_purge"),
            lambda r: len(r) > before,
            25,
        )
        assert len(runs) > before, "the scheduler did not follow the clock back"
        assert timedelta(0) <= runs[-1].as_of - earlier < timedelta(seconds=5)
    finally:
        proc.send_signal(subprocess.signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        requests.delete(live_server + "/_sandbox/clock", timeout=10)


def test_run_once_in_another_process_runs_on_the_sandbox_clock(app, session, live_server):
    _put_clock(live_server, datetime(2031, 6, 1, 0, 5, tzinfo=SHANGHAI))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run-once", "points_expiry"],
            cwd=ROOT,
            env=sandbox_process_env(app),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        run = session.execute(select(JobRun).where(JobRun.name == "points_expiry")).scalar_one()
        assert run.as_of.astimezone(SHANGHAI).date() == date(2031, 6, 1)
    finally:
        requests.delete(live_server + "/_sandbox/clock", timeout=10)
