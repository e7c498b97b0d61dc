"""Running the schedule: each job of app.schedule bound to its function, and its recorded run.

A job function takes `now` (an aware datetime) and returns a dict of counts; it calls services.
Every run goes through `run_job`, which records it in `job_runs`.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from app import clock
from app.extensions import db
from app.metrics import JOB_RUNS
from app.models.jobs import JobRun
from app.schedule import SCHEDULE
from app.unit_of_work import retrying
from jobs import benefits, housekeeping, messaging, points
from jobs import referrals as referral_jobs
from jobs import segments as segments_jobs

log = logging.getLogger("huiyuan.jobs")


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[[datetime], dict]
    cron: dict  # APScheduler cron fields, in the business time zone
    description: str


# What each job of the schedule (app.schedule: names, triggers, purposes) runs.
_RUNS: dict[str, Callable[[datetime], dict]] = {
    "points_expiry": points.points_expiry_job,
    "tiers_evaluate": points.tiers_evaluate_job,
    "idempotency_purge": housekeeping.purge_idempotency_keys,
    "points_expiry_reminder": messaging.points_expiry_reminder_job,
    "dormant_wakeup": messaging.dormant_wakeup_job,
    "messages_dispatch": messaging.messages_dispatch_job,
    "referral_settlement": referral_jobs.referral_settlement_job,
    "segments_refresh": segments_jobs.segments_refresh_job,
    "birthday_gifts": benefits.birthday_gifts_job,
    "tier_benefits": benefits.tier_benefits_job,
    "membership_orders_settle": benefits.membership_orders_settle_job,
    "membership_benefits": benefits.membership_benefits_job,
}


def _jobs() -> dict[str, JobSpec]:
    if set(_RUNS) != set(SCHEDULE):
        raise RuntimeError(f"jobs without a function or a schedule: {set(_RUNS) ^ set(SCHEDULE)}")
    specs = [
        JobSpec(job.name, _RUNS[job.name], job.cron, job.description) for job in SCHEDULE.values()
    ]
    if os.environ.get("HY_SCHEDULER_TEST_JOB"):
        # Only for the scheduler's own tests: a job that fires every two seconds.
        specs.append(JobSpec("test_tick", housekeeping.tick, {"second": "*/2"}, "Test tick."))
    return {spec.name: spec for spec in specs}


JOBS: dict[str, JobSpec] = _jobs()


def run_job(name: str, now: datetime | None = None, trigger: str = "manual") -> dict:
    """Run one job as of `now` (default: the clock), record the run, return its counts."""
    spec = JOBS[name]
    as_of = now or clock.now()
    run = JobRun(name=name, as_of=as_of, started_at=clock.now(), outcome="running", trigger=trigger)
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    try:
        # A job commits in batches and each run starts from what the database says is left (as
        # the next scheduled run would): one that PostgreSQL aborted for a deadlock runs again.
        counts = retrying(db.session, lambda: spec.func(as_of) or {}, f"job {name}")
    except Exception as exc:
        db.session.rollback()
        failed = db.session.get(JobRun, run_id)
        failed.finished_at = clock.now()
        failed.outcome = "error"
        failed.error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
        db.session.commit()
        JOB_RUNS.labels(name, "error").inc()
        log.exception("job %s failed", name, extra={"job": {"name": name, "run": run_id}})
        raise
    done = db.session.get(JobRun, run_id)
    done.finished_at = clock.now()
    done.outcome = "ok"
    done.counts = counts
    db.session.commit()
    JOB_RUNS.labels(name, "ok").inc()
    log.info("job %s ok %s", name, counts, extra={"job": {"name": name, "counts": counts}})
    return counts
