"""Segments: the program settings and the figures marketing reads."""

from __future__ import annotations

from datetime import date

import marshmallow as ma

_DAYS = ma.validate.Range(min=1, max=3650)


class SegmentsProgramSchema(ma.Schema):
    window_days = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(min=30, max=3650)
    )
    new_days = ma.fields.Integer(required=True, strict=True, validate=_DAYS)
    active_days = ma.fields.Integer(required=True, strict=True, validate=_DAYS)
    lost_days = ma.fields.Integer(required=True, strict=True, validate=_DAYS)

    @ma.validates_schema
    def thresholds_ordered(self, data: dict, **_) -> None:
        if (
            data.get("active_days")
            and data.get("lost_days")
            and (data["lost_days"] <= data["active_days"])
        ):
            raise ma.ValidationError("must be more than active_days", field_name="lost_days")


# Business days a report can name: from the oldest history an import takes (1970) to 2099. Past
# either end the period's instants overflow (?to=9999-12-31 was a 500); inside, it is a typo.
REPORT_DAY = ma.validate.Range(
    min=date(1970, 1, 1), max=date(2099, 12, 31), error="Give a day from 1970-01-01 to 2099-12-31."
)


class SegmentsReportArgsSchema(ma.Schema):
    # `from` is a Python keyword: the field is named period_from and read from ?from=.
    period_from = ma.fields.Date(data_key="from", load_default=None, validate=REPORT_DAY)
    period_to = ma.fields.Date(data_key="to", load_default=None, validate=REPORT_DAY)
    live = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "compute the figures now instead of reading the stored ones"},
    )

    @ma.validates_schema
    def ordered(self, data: dict, **_) -> None:
        if (
            data.get("period_from")
            and data.get("period_to")
            and (data["period_from"] > data["period_to"])
        ):
            raise ma.ValidationError("must not be before from", field_name="to")


class StageCountSchema(ma.Schema):
    stage = ma.fields.String(required=True)
    members = ma.fields.Integer(required=True)


class GroupCountSchema(ma.Schema):
    group = ma.fields.String(required=True)
    members = ma.fields.Integer(required=True)


class MonthCountSchema(ma.Schema):
    month = ma.fields.String(required=True, metadata={"example": "2026-11"})
    members = ma.fields.Integer(required=True)


class ChainFiguresSchema(ma.Schema):
    members = ma.fields.Integer(required=True)
    lifecycle = ma.fields.List(ma.fields.Nested(StageCountSchema), required=True)
    rfm = ma.fields.List(ma.fields.Nested(GroupCountSchema), required=True)


class StoreFiguresSchema(ChainFiguresSchema):
    store_id = ma.fields.Integer(allow_none=True, required=True)
    code = ma.fields.String(allow_none=True, required=True)
    name = ma.fields.String(required=True)
    buyers = ma.fields.Integer(required=True)
    bought_last_12_months = ma.fields.Integer(required=True)
    bought_last_12_months_share = ma.fields.Float(allow_none=True, required=True)
    one_time_buyers = ma.fields.Integer(required=True)
    one_time_buyer_share = ma.fields.Float(allow_none=True, required=True)
    first_time_buyers_90_days_ago = ma.fields.Integer(required=True)
    came_back_within_90_days = ma.fields.Integer(required=True)
    came_back_within_90_days_share = ma.fields.Float(allow_none=True, required=True)
    signups_by_month = ma.fields.List(ma.fields.Nested(MonthCountSchema), required=True)
    sales_new_members_fen = ma.fields.Integer(required=True)
    sales_earlier_members_fen = ma.fields.Integer(required=True)


class PeriodSchema(ma.Schema):
    from_ = ma.fields.Date(data_key="from", attribute="from", required=True)
    to = ma.fields.Date(required=True)


class SegmentsReportSchema(ma.Schema):
    period = ma.fields.Nested(PeriodSchema, required=True)
    computed_at = ma.fields.AwareDateTime(
        allow_none=True, required=True, metadata={"description": "last segments refresh"}
    )
    source = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(("stored", "live")),
        metadata={
            "description": "stored: computed by the last refresh for its period (the default "
            "12 months); live: computed for this request (another period, or live=true)"
        },
    )
    figures_computed_at = ma.fields.AwareDateTime(
        required=True, metadata={"description": "when these figures were computed"}
    )
    chain = ma.fields.Nested(ChainFiguresSchema, required=True)
    stores = ma.fields.List(ma.fields.Nested(StoreFiguresSchema), required=True)


class MemberSegmentSchema(ma.Schema):
    """One member's place in the segments, as the last nightly refresh computed it."""

    lifecycle_stage = ma.fields.String(required=True)
    stage_since = ma.fields.Date(required=True)
    rfm_group = ma.fields.String(allow_none=True, required=True)
    r_score = ma.fields.Integer(allow_none=True, required=True)
    f_score = ma.fields.Integer(allow_none=True, required=True)
    m_score = ma.fields.Integer(allow_none=True, required=True)
    recency_days = ma.fields.Integer(allow_none=True, required=True)
    frequency = ma.fields.Integer(required=True)
    monetary_fen = ma.fields.Integer(required=True)
    p_alive = ma.fields.Float(allow_none=True, required=True)
    expected_purchases_90d = ma.fields.Float(allow_none=True, required=True)
    last_purchase_at = ma.fields.DateTime(allow_none=True, required=True)
    computed_at = ma.fields.DateTime(required=True)
