"""The console's analytics and sign-up report pages.

Like views.py, each view renders a guarded shell; its script calls the staff API. The default
periods are the business calendar's (BUSINESS_TZ, the sandbox clock included), not the browser's.
"""

from __future__ import annotations

from datetime import date, timedelta

from app import clock
from app.console.blueprint import bp
from app.console.session import console_page, current_staff
from app.console.views import render_page
from app.extensions import db
from app.models.staff import CHAIN_ROLES
from app.services.messaging import console_choices

SIGNUP_DAYS = 30  # the sign-up page opens on the last 30 business days
COHORT_MONTHS = 12  # and the cohorts on the last 12 join months


def _month(year: int, month: int) -> str:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return f"{year:04d}-{month:02d}"


def analytics_defaults(today: date) -> dict:
    """The last whole month for GMV and baskets, the last 12 join months for cohorts."""
    last_month_end = today.replace(day=1) - timedelta(days=1)
    return {
        "month": _month(last_month_end.year, last_month_end.month),
        "cohorts_from": _month(today.year, today.month - COHORT_MONTHS + 1),
        "cohorts_to": _month(today.year, today.month),
        "baskets_from": last_month_end.replace(day=1).isoformat(),
        "baskets_to": last_month_end.isoformat(),
    }


@bp.route("/analytics")
@console_page("analytics")
def analytics():
    stores = console_choices.store_choices(db.session)
    today = clock.business_date(clock.now())
    return render_page(
        "console/analytics.html",
        stores=stores,
        script={"defaults": analytics_defaults(today)},
    )


@bp.route("/signups")
@console_page("signups")
def signups():
    # A manager's report is their own store's: a store picker would offer only refusals.
    staff = current_staff()
    stores = console_choices.store_choices(db.session)
    today = clock.business_date(clock.now())
    return render_page(
        "console/signups.html",
        stores=stores if staff.role in CHAIN_ROLES else [],
        script={
            "store_names": {s["id"]: s["name"] for s in stores},
            "defaults": {
                "from": (today - timedelta(days=SIGNUP_DAYS - 1)).isoformat(),
                "to": today.isoformat(),
            },
        },
    )
