"""The scheduler process: `flask --app wsgi jobs run`.

However many copies run, one holds a Redis lease (renewed by a heartbeat) and runs APScheduler;
the others stand by and take over within LEASE_SECONDS + STANDBY_POLL after the holder dies.
Jobs live in a SQLAlchemy job store on the app's database, in the business time zone, coalesced,
with a misfire grace time, one instance at a time. In SANDBOX mode the scheduler runs on the test
clock (jobs/sandbox_time.py): a job due at 03:00 runs when the sandbox clock passes 03:00.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import threading
import time

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask, current_app, has_app_context

from app.extensions import db, get_redis, rkey
from app.schedule import JOBSTORE_TABLE
from jobs.sandbox_time import SandboxClockFollower
from jobs.schedule import JOBS, run_job

log = logging.getLogger("huiyuan.scheduler")
LEASE_SECONDS = float(os.environ.get("SCHEDULER_LEASE_SECONDS", "30"))
HEARTBEAT_SECONDS = LEASE_SECONDS / 3
STANDBY_POLL = float(os.environ.get("SCHEDULER_STANDBY_POLL", "5"))
MISFIRE_GRACE_SECONDS = 600

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_app: Flask | None = None
_lease: Lease | None = None  # this process's lease while it runs the scheduler


def app_for_jobs() -> Flask:
    """The app the scheduler process made (jobs run in its context)."""
    if _app is None:
        raise RuntimeError("the scheduler is not running in this process")
    return _app


def holds_lease() -> bool:
    """Whether this process still holds the lease (a paused holder may have lost it: fencing)."""
    if _lease is None:
        return True  # not the scheduler process (run-once, tests)
    try:
        return get_redis().get(_lease.key) == _lease.owner
    except Exception:  # noqa: BLE001 - Redis down: do not run what another copy may run
        return False


class Lease:
    """A Redis lease: held while renewed; lost if the holder stops renewing."""

    def __init__(self, name: str = "lease") -> None:
        self.key = rkey("scheduler", name)
        self.owner = f"{os.getpid()}-{secrets.token_hex(4)}"

    def acquire(self) -> bool:
        return bool(get_redis().set(self.key, self.owner, nx=True, px=int(LEASE_SECONDS * 1000)))

    def renew(self) -> bool:
        return bool(get_redis().eval(_RENEW, 1, self.key, self.owner, int(LEASE_SECONDS * 1000)))

    def release(self) -> None:
        get_redis().eval(_RELEASE, 1, self.key, self.owner)


def build_scheduler(app: Flask) -> BackgroundScheduler:
    tz = app.config["BUSINESS_TZ"]
    # The sandbox clock jumps: a job it jumps past runs once, however far, instead of "missed".
    grace = None if app.config.get("SANDBOX") else MISFIRE_GRACE_SECONDS
    scheduler = BackgroundScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(
                url=app.config["SQLALCHEMY_DATABASE_URI"], tablename=JOBSTORE_TABLE
            )
        },
        job_defaults={
            "coalesce": True,
            "misfire_grace_time": grace,
            "max_instances": 1,
        },
        timezone=tz,
    )
    for spec in JOBS.values():
        scheduler.add_job(
            "jobs.scheduler:run_scheduled",
            CronTrigger(timezone=tz, **spec.cron),
            args=[spec.name],
            id=spec.name,
            name=spec.description,
            replace_existing=True,
        )
    return scheduler


def run_scheduler(stop: threading.Event | None = None) -> None:
    """Stand by until the lease is ours, run the jobs while we hold it; repeat until stopped."""
    global _app, _lease
    _app = current_app._get_current_object()
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, lambda *_: stop.set())
        except ValueError:  # not the main thread (tests)
            pass
    lease = _lease = Lease()
    log.info("scheduler %s standing by", lease.owner)
    while not stop.is_set():
        if not _try_acquire(lease):
            stop.wait(STANDBY_POLL)
            continue
        log.info("scheduler %s took the lease", lease.owner)
        follower = None
        try:
            scheduler = build_scheduler(_app)
            follower = SandboxClockFollower(scheduler) if _app.config.get("SANDBOX") else None
            if follower:
                follower.start()  # before the scheduler counts its first runs
            scheduler.start()  # reads and writes the job store: the database may be down
        except Exception as exc:  # noqa: BLE001 - stand by and try again, never die of it
            log.warning("scheduler %s could not start: %s; standing by", lease.owner, exc)
            if follower:
                follower.stop()
            db.session.remove()
            with contextlib.suppress(Exception):
                lease.release()
            stop.wait(STANDBY_POLL)
            continue
        try:
            while not stop.wait(HEARTBEAT_SECONDS):
                if not _try_renew(lease):
                    log.warning("scheduler %s lost the lease; standing by", lease.owner)
                    break
        finally:
            scheduler.shutdown(wait=True)
            if follower:
                follower.stop()
            db.session.remove()
    try:
        lease.release()
    except Exception:  # noqa: BLE001 - Redis may be down at shutdown
        pass
    log.info("scheduler %s stopped", lease.owner)


def _try_acquire(lease: Lease) -> bool:
    try:
        return lease.acquire()
    except Exception as exc:  # noqa: BLE001 - Redis down: keep standing by
        log.warning("lease acquire failed: %s", type(exc).__name__)
        return False


def _try_renew(lease: Lease) -> bool:
    # A failed renewal for one heartbeat is tolerated while the lease has not run out.
    deadline = time.monotonic() + LEASE_SECONDS - HEARTBEAT_SECONDS
    while time.monotonic() < deadline:
        try:
            return lease.renew()
        except Exception as exc:  # noqa: BLE001
            log.warning("lease renew failed: %s", type(exc).__name__)
            time.sleep(1)
    return False


def run_scheduled(name: str) -> None:
    """Entry point APScheduler calls (by reference, so the job store can persist it)."""
    app = current_app if has_app_context() else app_for_jobs()
    with app.app_context():
        if not holds_lease():
            log.warning("job %s not run: this scheduler no longer holds the lease", name)
            return
        try:
            run_job(name, trigger="schedule")
        except Exception:  # noqa: BLE001 - recorded in job_runs; the scheduler keeps going
            pass
