"""`flask --app wsgi jobs run` and `jobs run-once NAME --now ISO-INSTANT`."""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from app.db_timeouts import job_timeouts
from jobs.queue import QueueUnavailable, run_worker
from jobs.schedule import JOBS, run_job
from jobs.scheduler import run_scheduler

jobs_cli = AppGroup("jobs", help="Scheduled jobs.")


def _parse_instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO instant: {value!r}") from exc
    if instant.tzinfo is None:
        raise click.BadParameter("give the instant an offset, e.g. 2026-11-25T00:05:00+08:00")
    return instant


@jobs_cli.command("run-once")
@click.argument("name")
@click.option("--now", "now_text", default=None, help="Run as of this ISO instant.")
def run_once(name: str, now_text: str | None) -> None:
    """Run one job now, as of an instant."""
    if name not in JOBS:
        raise click.UsageError(f"unknown job {name!r}; known: {', '.join(sorted(JOBS))}")
    with job_timeouts(current_app):
        outcome = run_job(name, now=_parse_instant(now_text))
    click.echo(outcome)


@jobs_cli.command("run")
def run() -> None:
    """The scheduler process (one per deployment; extra copies stand by)."""
    with job_timeouts(current_app):  # a night's statements may run for minutes
        run_scheduler()


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--name", default=None, help="Worker name (default: host pid and a random tag).")
def worker(burst: bool, name: str | None) -> None:
    """An RQ worker for message dispatch (with DISPATCH_VIA=rq; run as many as needed)."""
    try:
        with job_timeouts(current_app):
            run_worker(burst=burst, name=name)
    except QueueUnavailable as exc:
        raise click.UsageError(str(exc)) from exc
