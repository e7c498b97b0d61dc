"""The scheduled jobs and their recorded runs, as GET /staff/v1/admin/jobs shows them."""

from __future__ import annotations

import marshmallow as ma

from app.schemas.common import WholeListSchema


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


class JobListSchema(WholeListSchema):
    items = ma.fields.List(ma.fields.Nested(JobSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
