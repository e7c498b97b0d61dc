"""The birthday program's settings (GET, PUT /staff/v1/admin/programs/birthday)."""

from __future__ import annotations

import marshmallow as ma

from app.services.benefits.birthday_gifts import WHEN


class BirthdayProgramSchema(ma.Schema):
    enabled = ma.fields.Boolean(required=True)
    when = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(WHEN),
        metadata={
            "description": "day: on the birthday; week: in its ISO week (from the Monday); "
            "month: in its month (from the 1st)"
        },
    )
    points = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(min=0, max=1_000_000)
    )
    coupon_template_id = ma.fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=ma.validate.Range(min=1)
    )
    notify = ma.fields.Boolean(load_default=True)
