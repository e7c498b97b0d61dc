"""What the admin sees of the scheduled jobs: schedule, next run, last run and its outcome."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from app.models.jobs import JobRun
from app.schedule import JOBSTORE_TABLE, SCHEDULE


def _next_runs(session: Session) -> dict[str, datetime]:
    bind = session.get_bind()
    if not inspect(bind).has_table(JOBSTORE_TABLE):
        return {}
    rows = session.execute(text(f"SELECT id, next_run_time FROM {JOBSTORE_TABLE}")).all()
    return {
        row.id: datetime.fromtimestamp(row.next_run_time, UTC)
        for row in rows
        if row.next_run_time is not None
    }


def job_overview(session: Session) -> list[dict]:
    """Every scheduled job with its cron, next run, and last run (outcome, counts, error)."""
    latest = select(JobRun.name, func.max(JobRun.id).label("id")).group_by(JobRun.name).subquery()
    last_runs = {
        run.name: run
        for run in session.execute(select(JobRun).join(latest, JobRun.id == latest.c.id)).scalars()
    }
    next_runs = _next_runs(session)
    overview = []
    for spec in SCHEDULE.values():
        run = last_runs.get(spec.name)
        overview.append(
            {
                "name": spec.name,
                "description": spec.description,
                "schedule": spec.cron,
                "next_run_at": next_runs.get(spec.name),
                "last_run": None
                if run is None
                else {
                    "started_at": run.started_at,
                    "finished_at": run.finished_at,
                    "outcome": run.outcome,
                    "counts": run.counts,
                    "error": run.error,
                    "as_of": run.as_of,
                    "trigger": run.trigger,
                },
            }
        )
    return overview
