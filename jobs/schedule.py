"""The one schedule table: every periodic job, its trigger, and the function it runs.

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

log = logging.getLogger("huiyuan.jobs")


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[[datetime], dict]
    cron: dict  # APScheduler cron fields, in the business time zone
    description: str


def _jobs() -> dict[str, JobSpec]:
    from jobs import housekeeping, messaging, points
    from jobs import referrals as referral_jobs
    from jobs import segments as segments_jobs

    specs: list[JobSpec] = [
        JobSpec(
            "points_expiry",
            points.points_expiry_job,
            {"hour": 0, "minute": 5},
            "Expire points whose last day has passed (one ledger entry per member).",
        ),
        JobSpec(
            "tiers_evaluate",
            points.tiers_evaluate_job,
            {"hour": 1, "minute": 0},
            "Re-evaluate tiers on 12-month earnings; down at most one tier a night.",
        ),
        JobSpec(
            "idempotency_purge",
            housekeeping.purge_idempotency_keys,
            {"hour": 4, "minute": 10},
            "Forget Idempotency-Keys older than 48 hours.",
        ),
        JobSpec(
            "points_expiry_reminder",
            messaging.points_expiry_reminder_job,
            {"hour": 9, "minute": 30},
            "Remind members of points expiring within N days (once per member per date).",
        ),
        JobSpec(
            "dormant_wakeup",
            messaging.dormant_wakeup_job,
            {"hour": 10, "minute": 30},
            "Wake members who entered the sleeping stage (at most once per 30 days).",
        ),
        JobSpec(
            "messages_dispatch",
            messaging.messages_dispatch_job,
            {"minute": "*"},
            "Start due campaigns and send queued messages (quiet 21:00-09:00, capped).",
        ),
        JobSpec(
            "referral_settlement",
            referral_jobs.referral_settlement_job,
            {"hour": 2, "minute": 30},
            "Grant referral rewards whose purchase's refund window has passed.",
        ),
        JobSpec(
            "segments_refresh",
            segments_jobs.segments_refresh_job,
            {"hour": 2, "minute": 30},
            "Recompute RFM groups, lifecycle stages and each member's odds of buying again.",
        ),
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
        counts = spec.func(as_of) or {}
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


def run_scheduled(name: str) -> None:
    """Entry point APScheduler calls (by reference, so the job store can persist it)."""
    from flask import current_app

    from jobs.scheduler import app_for_jobs, holds_lease

    app = app_for_jobs() if not _has_app() else current_app
    with app.app_context():
        if not holds_lease():
            log.warning("job %s not run: this scheduler no longer holds the lease", name)
            return
        try:
            run_job(name, trigger="schedule")
        except Exception:  # noqa: BLE001 - recorded in job_runs; the scheduler keeps going
            pass


def _has_app() -> bool:
    from flask import has_app_context

    return has_app_context()
