"""The scheduler process: one leader among many copies, takeover, recorded runs, /admin/jobs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.models.jobs import JobRun
from jobs.cli import jobs_cli
from tests.conftest import sandbox_process_env

ROOT = Path(__file__).resolve().parents[2]


def test_run_once_records_the_run_and_admin_sees_it(
    app, client, make_staff, staff_headers, session
):
    runner = app.test_cli_runner()
    result = runner.invoke(
        jobs_cli, args=["run-once", "idempotency_purge", "--now", "2026-11-25T04:10:00+08:00"]
    )
    assert result.exit_code == 0, result.output
    run = session.execute(select(JobRun)).scalar_one()
    assert (run.name, run.outcome, run.trigger) == ("idempotency_purge", "ok", "manual")
    assert run.as_of.isoformat() == "2026-11-24T20:10:00+00:00"
    jobs = client.get("/staff/v1/admin/jobs", headers=staff_headers(make_staff("admin"))).get_json()
    entry = next(j for j in jobs["items"] if j["name"] == "idempotency_purge")
    assert entry["last_run"]["outcome"] == "ok"
    assert entry["last_run"]["counts"] == {"deleted": 0}
    assert (
        client.get(
            "/staff/v1/admin/jobs", headers=staff_headers(make_staff("marketer"))
        ).status_code
        == 403
    )


def test_run_once_rejects_unknown_jobs_and_naive_instants(app):
    runner = app.test_cli_runner()
    assert runner.invoke(jobs_cli, args=["run-once", "nope"]).exit_code != 0
    naive = runner.invoke(
        jobs_cli, args=["run-once", "idempotency_purge", "--now", "2026-11-25T04:10:00"]
    )
    assert naive.exit_code != 0
    assert "offset" in naive.output


def test_a_failing_job_is_recorded_as_error(app, session, monkeypatch):
    from jobs import schedule

    def boom(now):
        raise RuntimeError("disk full")

    monkeypatch.setitem(schedule.JOBS, "boom", schedule.JobSpec("boom", boom, {"hour": 1}, "x"))
    with pytest.raises(RuntimeError):
        schedule.run_job("boom")
    run = session.execute(select(JobRun).where(JobRun.name == "boom")).scalar_one()
    assert run.outcome == "error" and "disk full" in run.error


def _start(app, extra_env: dict) -> subprocess.Popen:
    env = sandbox_process_env(
        app,
        HY_SCHEDULER_TEST_JOB="1",
        SCHEDULER_LEASE_SECONDS="3",
        SCHEDULER_STANDBY_POLL="0.5",
        **extra_env,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(read, done, seconds: float):
    deadline = time.time() + seconds
    value = read()
    while not done(value) and time.time() < deadline:
        time.sleep(0.5)
        value = read()
    return value


def test_a_standby_takes_over_within_a_minute_by_default():
    from jobs import scheduler

    # Worst case: the holder dies just after renewing; the lease runs out, then a standby polls.
    assert scheduler.LEASE_SECONDS + scheduler.STANDBY_POLL < 60


def test_a_copy_that_lost_the_lease_runs_nothing(app, session, monkeypatch):
    from app.extensions import get_redis, rkey
    from jobs import scheduler

    lease = scheduler.Lease()
    monkeypatch.setattr(scheduler, "_lease", lease)
    get_redis().set(rkey("scheduler", "lease"), "someone-else")
    scheduler.run_scheduled("idempotency_purge")
    assert session.execute(select(JobRun)).first() is None
    get_redis().set(rkey("scheduler", "lease"), lease.owner)
    scheduler.run_scheduled("idempotency_purge")
    assert session.execute(select(JobRun)).scalar_one().trigger == "schedule"


def _tick_slots(session) -> list[int]:
    session.expire_all()
    runs = session.execute(select(JobRun).where(JobRun.name == "test_tick")).scalars().all()
    return [int(r.started_at.timestamp()) // 2 for r in runs]


def test_two_schedulers_run_each_job_once_and_the_standby_takes_over(app, session):
    from app.extensions import get_redis, rkey

    procs = [_start(app, {}), _start(app, {})]
    try:
        # Started together; under load the processes take a while to import the app.
        slots = _wait_for(lambda: _tick_slots(session), lambda s: len(s) >= 3, 45)
        assert len(slots) >= 3
        assert len(slots) == len(set(slots)), "a tick ran twice"
        owner = get_redis().get(rkey("scheduler", "lease"))
        leader = next(p for p in procs if owner.startswith(f"{p.pid}-"))
        leader.send_signal(signal.SIGKILL)
        leader.wait()
        killed_at = time.time()
        later = _wait_for(lambda: [s for s in _tick_slots(session) if s * 2 > killed_at], bool, 45)
        assert later, "the standby did not take over"
        all_slots = _tick_slots(session)
        assert len(all_slots) == len(set(all_slots))
        new_owner = get_redis().get(rkey("scheduler", "lease"))
        assert new_owner and not new_owner.startswith(f"{leader.pid}-")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
