"""Daily check-in: POST /api/v1/checkins, POST /api/v1/checkins/makeup, GET /api/v1/checkins."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app import clock
from app.auth import member_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.idempotency import idempotent
from app.schemas.checkin import CalendarSchema, CheckinResultSchema, MakeupSchema, MonthArgsSchema
from app.services import checkin

blp = Blueprint("checkins", __name__, url_prefix="/api/v1/checkins", description="Check-in")


@blp.route("")
class Checkins(MethodView):
    @member_required(found_by_use_case=True)  # the check-in's one statement reads the member
    @idempotent
    @blp.response(201, CheckinResultSchema)
    @blp.alt_response(409, schema=ErrorBodySchema, description="checkin.already_done")
    def post(self):
        """Check in for today (business day); the reward depends on the streak."""
        return checkin.check_in(db.session, g.member_id)

    @member_required
    @blp.arguments(MonthArgsSchema, location="query")
    @blp.response(200, CalendarSchema)
    def get(self, args):
        """The days checked in during a month (default: this month), the streak and the rules."""
        today = clock.business_today()
        month = args.get("month") or today.strftime("%Y-%m")
        return checkin.month_calendar(db.session, g.member_id, month, today)


@blp.route("/makeup")
class Makeup(MethodView):
    @member_required
    @idempotent
    @blp.arguments(MakeupSchema)
    @blp.response(201, CheckinResultSchema)
    @blp.alt_response(409, schema=ErrorBodySchema, description="already done, cap, points")
    @blp.alt_response(422, schema=ErrorBodySchema, description="checkin.makeup_out_of_window")
    def post(self, body):
        """Make up a missed day within the window, for points; repairs the streak."""
        return checkin.make_up(db.session, g.member_id, body["date"])
