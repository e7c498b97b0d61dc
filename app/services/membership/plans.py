"""The plans on sale (admin): create, change, list; every write audited."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import AppError
from app.models import Staff
from app.models.coupons import CouponTemplate
from app.models.membership import MembershipPlan
from app.services import pagination
from app.services.staff import audit


def _check_templates(session: Session, template_ids: list[int] | None) -> None:
    if not template_ids:
        return
    known = set(
        session.execute(
            select(CouponTemplate.id).where(CouponTemplate.id.in_(template_ids))
        ).scalars()
    )
    unknown = sorted(set(template_ids) - known)
    if unknown:
        raise AppError(
            "request.invalid",
            message="monthly_coupons names coupon templates that do not exist.",
            details={"monthly_coupons": [f"Unknown template: {t}." for t in unknown]},
        )


def get_plan(session: Session, plan_id: int) -> MembershipPlan:
    plan = session.get(MembershipPlan, plan_id)
    if plan is None:
        raise AppError("not_found", message="No such plan.")
    return plan


def list_plans(session: Session, limit: int, cursor) -> pagination.Page:
    """Every plan, newest first, those off sale too."""
    return pagination.page(session, select(MembershipPlan), MembershipPlan.id, limit, cursor)


def create_plan(session: Session, fields: dict, staff: Staff) -> MembershipPlan:
    """A new plan (fields validated by the schema; the coupon templates must exist)."""
    _check_templates(session, fields.get("monthly_coupons"))
    plan = MembershipPlan(**fields, created_by=staff.id)
    session.add(plan)
    session.flush()
    audit.record(session, staff, "membership_plan.create", "membership_plan", plan.id, fields)
    session.commit()
    return plan


def update_plan(session: Session, plan_id: int, changes: dict, staff: Staff) -> MembershipPlan:
    """Change a plan. Orders already made keep the price, months and multiplier they were made
    with; the monthly coupons follow the plan."""
    plan = get_plan(session, plan_id)
    _check_templates(session, changes.get("monthly_coupons"))
    for name, value in changes.items():
        setattr(plan, name, value)
    session.flush()
    audit.record(session, staff, "membership_plan.update", "membership_plan", plan.id, changes)
    session.commit()
    return plan
