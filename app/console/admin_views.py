"""The console's member, store, staff, referral-review, coupon-push and audit-trail pages.

Like views.py, each view renders a guarded shell; its script calls the staff API.
"""

from __future__ import annotations

from app.console.blueprint import bp
from app.console.session import console_page, current_staff
from app.console.views import render_page
from app.extensions import db
from app.models.segments import LIFECYCLE_STAGES, RFM_GROUPS
from app.models.staff import CHAIN_ROLES
from app.schemas.points import AdjustmentSchema
from app.schemas.staff import MemberLookupArgsSchema, StaffCreateSchema, StoreSchema
from app.services.messaging import console_choices


@bp.route("/members")
@console_page("members")
def members():
    return render_page(
        "console/members.html",
        MemberLookupArgsSchema=MemberLookupArgsSchema,
        AdjustmentSchema=AdjustmentSchema,
    )


@bp.route("/stores")
@console_page("stores")
def stores():
    return render_page("console/stores.html", StoreSchema=StoreSchema)


@bp.route("/staff")
@console_page("staff")
def staff():
    return render_page(
        "console/staff.html",
        StaffCreateSchema=StaffCreateSchema,
        stores=console_choices.store_choices(db.session),
    )


@bp.route("/referrals")
@console_page("referrals")
def referrals():
    return render_page("console/referrals.html")


@bp.route("/pushes")
@console_page("pushes")
def pushes():
    return render_page(
        "console/pushes.html",
        lifecycle_stages=LIFECYCLE_STAGES,
        rfm_groups=RFM_GROUPS,
        stores=console_choices.store_choices(db.session),
        tiers=console_choices.tier_choices(db.session),
    )


@bp.route("/audit")
@console_page("audit")
def audit():
    # A manager reads only their store's trail: a store picker would offer only refusals.
    staff = current_staff()
    chain_wide = staff.role in CHAIN_ROLES
    stores = console_choices.store_choices(db.session)
    return render_page(
        "console/audit.html",
        stores=stores if chain_wide else [],
        staff_list=console_choices.staff_choices(
            db.session, None if chain_wide else staff.store_id
        ),
        script={"store_names": {s["id"]: s["name"] for s in stores}},
    )
