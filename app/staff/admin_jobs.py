"""GET /staff/v1/admin/jobs (admin): the scheduled jobs and how their last runs went."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.extensions import db
from app.services.job_runs import job_overview

blp = Blueprint("admin_jobs", __name__, url_prefix="/staff/v1/admin/jobs", description="Jobs")


class JobRunSchema(ma.Schema):
    started_at = ma.fields.AwareDateTime()
    finished_at = ma.fields.AwareDateTime(allow_none=True)
    as_of = ma.fields.AwareDateTime()
    outcome = ma.fields.String()
    counts = ma.fields.Dict()
    error = ma.fields.String(allow_none=True)
    trigger = ma.fields.String()


class JobSchema(ma.Schema):
    name = ma.fields.String(required=True)
    description = ma.fields.String()
    schedule = ma.fields.Dict(metadata={"description": "cron fields, business time zone"})
    next_run_at = ma.fields.AwareDateTime(allow_none=True)
    last_run = ma.fields.Nested(JobRunSchema, allow_none=True)


class JobListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(JobSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


@blp.route("")
class Jobs(MethodView):
    @staff_required("admin")
    @blp.response(200, JobListSchema)
    def get(self):
        """Scheduled jobs: schedule, next run, last run and its outcome."""
        return {"items": job_overview(db.session), "next_cursor": None}
