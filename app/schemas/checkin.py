from __future__ import annotations

import marshmallow as ma


class CheckinResultSchema(ma.Schema):
    date = ma.fields.Date(required=True)
    streak = ma.fields.Integer(required=True)
    points_awarded = ma.fields.Integer(required=True)
    balance = ma.fields.Integer(required=True)


class MakeupSchema(ma.Schema):
    date = ma.fields.Date(required=True)


class MonthArgsSchema(ma.Schema):
    month = ma.fields.String(
        load_default=None,
        # Years 1900-2999: the calendar arithmetic must not leave what dates can represent.
        validate=ma.validate.Regexp(r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$", error="Use YYYY-MM."),
    )


class CheckinRulesSchema(ma.Schema):
    rewards = ma.fields.List(
        ma.fields.Integer(validate=ma.validate.Range(min=0, max=100_000)),
        required=True,
        validate=ma.validate.Length(min=1, max=31),
    )
    makeup_cost = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=100_000))
    makeup_window_days = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=60))
    makeup_monthly_cap = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=31))


class CalendarDaySchema(ma.Schema):
    date = ma.fields.Date(required=True)
    streak = ma.fields.Integer(required=True)
    # What the ledger paid for the day: its reward plus any re-pricing by a later make-up.
    points_awarded = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={"enum": ["daily", "makeup"]})


class CalendarSchema(ma.Schema):
    month = ma.fields.String(required=True)
    days = ma.fields.List(ma.fields.Date(), required=True)
    # The same days with their place in the streak and their points (added; `days` stays).
    checkins = ma.fields.List(ma.fields.Nested(CalendarDaySchema), required=True)
    streak = ma.fields.Integer(required=True)
    makeups_left_this_month = ma.fields.Integer(required=True)
    rules = ma.fields.Nested(CheckinRulesSchema, required=True)
