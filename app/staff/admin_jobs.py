"""GET /staff/v1/admin/jobs (admin): the scheduled jobs and how their last runs went."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.extensions import db
from app.schemas.jobs import JobListSchema
from app.services.job_runs import job_overview

blp = Blueprint("admin_jobs", __name__, url_prefix="/staff/v1/admin/jobs", description="Jobs")


@blp.route("")
class Jobs(MethodView):
    @staff_required("admin")
    @blp.response(200, JobListSchema)
    def get(self):
        """Scheduled jobs: schedule, next run, last run and its outcome."""
        return job_overview(db.session)
