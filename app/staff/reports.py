"""GET /staff/v1/reports/signups: what invite codes and stores brought in."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.signups import SignupReportArgsSchema, SignupReportSchema
from app.services.signups import report
from app.staff.csv_files import CSV_ANSWER, csv_response

blp = Blueprint("staff_reports", __name__, url_prefix="/staff/v1/reports", description="Reports")


@blp.route("/signups")
class SignupReport(MethodView):
    @staff_required("manager")
    @blp.arguments(SignupReportArgsSchema, location="query")
    @blp.response(200, SignupReportSchema)
    @blp.alt_response(403, schema=ErrorBodySchema, description="auth.forbidden")
    @blp.alt_response(200, **CSV_ANSWER)
    def get(self, args):
        """Sign-ups per staff member, store or business day in [from, to], with phones bound
        and first purchases within 30 days; managers see their own store only. `format=csv`:
        the same rows as a CSV file."""
        data = report.signups_report(
            db.session, g.staff, args["from_"], args["to"], args["group_by"], args["store_id"]
        )
        if args["format"] == "csv":
            name = f"signups-{args['group_by']}-{args['from_']}-{args['to']}.csv"
            return csv_response(name, *report.csv_rows(SignupReportSchema().dump(data)))
        return data
