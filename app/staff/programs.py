"""GET/PUT /staff/v1/admin/programs/points, /checkin, /segments (admin), /birthday (marketer+)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.extensions import db
from app.schemas.birthday import BirthdayProgramSchema
from app.schemas.checkin import CheckinRulesSchema
from app.schemas.points import PointsProgramSchema
from app.schemas.segments import SegmentsProgramSchema
from app.services import checkin, programs, segments
from app.services.benefits import birthday_gifts
from app.services.ledger import points_program

blp = Blueprint("programs", __name__, url_prefix="/staff/v1/admin/programs", description="Programs")


@blp.route("/points")
class PointsProgram(MethodView):
    @staff_required("admin")
    @blp.response(200, PointsProgramSchema)
    def get(self):
        """Earn rate, rounding, expiry policy and tiers."""
        return points_program.config(db.session)

    @staff_required("admin")
    @blp.arguments(PointsProgramSchema)
    @blp.response(200, PointsProgramSchema)
    def put(self, config):
        """Replace the points program; applies to earnings from now on."""
        return points_program.save_program(db.session, config, g.staff)


@blp.route("/checkin")
class CheckinProgram(MethodView):
    @staff_required("admin")
    @blp.response(200, CheckinRulesSchema)
    def get(self):
        """Streak rewards and make-up rules."""
        return checkin.rules(db.session)

    @staff_required("admin")
    @blp.arguments(CheckinRulesSchema)
    @blp.response(200, CheckinRulesSchema)
    def put(self, config):
        return programs.put_config(db.session, "checkin", config, g.staff)


@blp.route("/segments")
class SegmentsProgram(MethodView):
    @staff_required("admin")
    @blp.response(200, SegmentsProgramSchema)
    def get(self):
        """RFM window and lifecycle thresholds (days); used by the nightly segments refresh."""
        return segments.config(db.session)

    @staff_required("admin")
    @blp.arguments(SegmentsProgramSchema)
    @blp.response(200, SegmentsProgramSchema)
    def put(self, config):
        """Replace the segment settings; applies from the next refresh."""
        return programs.put_config(db.session, "segments", config, g.staff)


@blp.route("/birthday")
class BirthdayProgram(MethodView):
    @staff_required("marketer")
    @blp.response(200, BirthdayProgramSchema)
    def get(self):
        """The birthday gift: when (day, week or month), points, coupon, message."""
        return birthday_gifts.program(db.session)

    @staff_required("marketer")
    @blp.arguments(BirthdayProgramSchema)
    @blp.response(200, BirthdayProgramSchema)
    def put(self, config):
        """Replace the birthday program; the daily job birthday_gifts gives by it from its next
        run (a member already given this year's gift gets nothing more)."""
        return birthday_gifts.save_program(db.session, config, g.staff)
