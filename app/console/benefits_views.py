"""The console's pages for the benefits of issue 19: the birthday gift and the paid plans.

Like views.py, each view renders a guarded shell; its script calls the staff API (the tier perks
live on the points page, views.programs_points).
"""

from __future__ import annotations

from app.console.blueprint import bp
from app.console.session import console_page
from app.console.views import render_page
from app.schemas.birthday import BirthdayProgramSchema
from app.schemas.membership import MembershipPlanSchema, MembershipRefundRequestSchema


@bp.route("/programs/birthday")
@console_page("programs_birthday")
def programs_birthday():
    return render_page(
        "console/programs_birthday.html", BirthdayProgramSchema=BirthdayProgramSchema
    )


@bp.route("/programs/membership")
@console_page("programs_membership")
def programs_membership():
    return render_page(
        "console/programs_membership.html",
        MembershipPlanSchema=MembershipPlanSchema,
        MembershipRefundRequestSchema=MembershipRefundRequestSchema,
    )
