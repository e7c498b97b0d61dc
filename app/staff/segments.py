"""GET /staff/v1/admin/segments (marketer+): stages, RFM groups and store figures; CSV exports."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import AppError
from app.extensions import db
from app.schemas.segments import SegmentsReportArgsSchema, SegmentsReportSchema
from app.services.segments import report as segments_report
from app.staff.csv_files import csv_response

blp = Blueprint("segments", __name__, url_prefix="/staff/v1/admin/segments", description="Segments")


@blp.route("")
class Segments(MethodView):
    @staff_required("marketer")
    @blp.arguments(SegmentsReportArgsSchema, location="query")
    @blp.response(200, SegmentsReportSchema)
    def get(self, args):
        """Members per lifecycle stage and RFM group (chain and per store) and store figures: as
        the last nightly refresh stored them for the 12 months up to its day, or computed now
        for another period (or with live=true)."""
        return segments_report.read(db.session, **args)


@blp.route("/<string:figure>.csv")
class SegmentsCsv(MethodView):
    @staff_required("marketer")
    @blp.arguments(SegmentsReportArgsSchema, location="query")
    @blp.response(
        200, content_type="text/csv", description="figure: lifecycle, rfm, stores, signups"
    )
    def get(self, args, figure):
        """One figure as CSV (UTF-8 with BOM, so spreadsheets show the Chinese group names)."""
        if figure not in segments_report.CSV_FIGURES:
            raise AppError("not_found", message="No such figure.")
        data = segments_report.read(db.session, **args)
        header, rows = segments_report.csv_rows(data, figure)
        return csv_response(f"segments-{figure}.csv", header, rows)
