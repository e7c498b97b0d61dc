"""Message dispatch over several worker processes through RQ (Redis Queue).

One scheduler process runs `messages_dispatch` every minute. By default it delivers the outbox
from DISPATCH_WORKERS threads of its own process. When one process is not enough, set
DISPATCH_VIA=rq: the job then puts up to DISPATCH_WORKERS "dispatch a batch" tasks on the queue
and any number of `flask --app wsgi jobs worker` processes, on any machines, take them. Each task
calls the dispatcher service (app.services.messaging.dispatch.dispatch_due), whose claims use
`FOR UPDATE SKIP LOCKED`: two workers never take the same message, and a worker that dies is
recovered by the next run (recover_stale) exactly as with threads.

The queue lives in the deployment's Redis under REDIS_KEY_PREFIX (several deployments or test
runs can share one Redis). RQ needs raw bytes, so it has its own connection.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import datetime

import redis
from flask import Flask, current_app
from rq import Queue, Worker, get_current_job

from app import clock, create_app
from app.extensions import db
from app.metrics import DISPATCH_TASKS
from app.services.messaging import dispatch
from jobs.messaging import send_bucket

log = logging.getLogger("huiyuan.queue")
QUEUE = "messages"
TASK_TIMEOUT_SECONDS = 300
# A task delivers for at most this long, then returns; the next minute's run enqueues more.
TASK_BUDGET_SECONDS = 50
_worker_app: Flask | None = None


class QueueUnavailable(RuntimeError):
    """RQ needs a real Redis (REDIS_URL); the embedded stand-in is one process only."""


def connection(app: Flask | None = None) -> redis.Redis:
    app = app or current_app
    url = app.config.get("REDIS_URL")
    if not url:
        raise QueueUnavailable(
            "DISPATCH_VIA=rq and `jobs worker` need REDIS_URL (a real Redis shared by the "
            "scheduler and the workers)."
        )
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)


def queue_name(app: Flask | None = None) -> str:
    app = app or current_app
    return f"{app.config.get('REDIS_KEY_PREFIX', 'hy:')}{QUEUE}"


def message_queue(app: Flask | None = None):
    app = app or current_app
    return Queue(queue_name(app), connection=connection(app), default_timeout=TASK_TIMEOUT_SECONDS)


def dispatch_via_queue(app: Flask | None = None) -> bool:
    """Whether this deployment dispatches through RQ (DISPATCH_VIA=rq)."""
    app = app or current_app
    return (app.config.get("DISPATCH_VIA") or os.environ.get("DISPATCH_VIA", "")).lower() == "rq"


def enqueue_dispatch(tasks: int, as_of: datetime | None = None, batch: int = 50) -> dict:
    """Top the queue up to `tasks` waiting dispatch tasks; returns how many were added.

    Topping up rather than adding: while the workers are still busy with the last minute's
    tasks, the next run must not pile more behind them.
    """
    queue = message_queue()
    waiting = queue.count
    added = 0
    for _ in range(max(0, tasks - waiting)):
        queue.enqueue(
            "jobs.queue.dispatch_batch",
            kwargs={
                "as_of": as_of.isoformat() if as_of else None,
                "batch": batch,
                "budget_seconds": TASK_BUDGET_SECONDS,
            },
            job_timeout=TASK_TIMEOUT_SECONDS,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
        )
        added += 1
    return {"dispatch_tasks_enqueued": added, "dispatch_tasks_waiting": waiting}


def _app_for_worker() -> Flask:
    """The app of this worker process (made once, from the environment, like gunicorn's)."""
    global _worker_app
    if _worker_app is None:
        _worker_app = create_app()
    return _worker_app


def dispatch_batch(
    as_of: str | None = None, batch: int = 50, budget_seconds: float = TASK_BUDGET_SECONDS
) -> dict:
    """RQ task: deliver due messages (claimed in batches) until none are left or time is up.

    `as_of` fixes the clock (tests, `run-once --now`); otherwise the worker's clock is used at
    each claim, so a task that waited in the queue still honours quiet hours.
    """
    fixed = datetime.fromisoformat(as_of) if as_of else None
    job = get_current_job()
    # The claim names the RQ worker (process) and this task, for the outbox's claimed_by.
    owner = (job.worker_name if job is not None else None) or f"pid{os.getpid()}"
    with _app_for_worker().app_context():
        worker = f"rq:{owner}:{secrets.token_hex(3)}"
        try:
            counts = dispatch.dispatch_due(
                db.session,
                worker,
                now_fn=(lambda: fixed) if fixed else clock.now,
                bucket=send_bucket(db.session),
                batch=batch,
                budget_seconds=budget_seconds,
                in_flight=int(current_app.config.get("DISPATCH_IN_FLIGHT", 8)),
            )
        except Exception:
            DISPATCH_TASKS.labels("error").inc()
            log.exception("dispatch task failed", extra={"job": {"name": "dispatch_batch"}})
            raise
        finally:
            db.session.remove()
    DISPATCH_TASKS.labels("ok").inc()
    log.info(
        "dispatch task %s", counts, extra={"job": {"name": "dispatch_batch", "counts": counts}}
    )
    return counts


def run_worker(burst: bool = False, name: str | None = None) -> bool:
    """Work the message queue in this process until stopped (or, with burst, until empty)."""
    app = current_app._get_current_object()
    global _worker_app
    _worker_app = app  # tasks run in this very app: one set of pools per worker process
    worker = Worker(
        [message_queue(app)],
        connection=connection(app),
        name=name or f"hy-{os.getpid()}-{secrets.token_hex(3)}",
    )
    return worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
