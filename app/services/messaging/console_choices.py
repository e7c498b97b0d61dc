"""What the console's pickers offer (stores, staff, tiers) and the message preview marketing reads.

Read-only helpers for the console's views; the rules themselves live in their own services.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member, Staff, Store
from app.services.ledger import points_program
from app.services.messaging import message_templates
from app.services.messaging.dispatch import member_values

# The member a preview is shown for when no real member is named.
SAMPLE_MEMBER = {
    "nickname": "小王",
    "balance": 1280,
    "expiring_points": 200,
    "member_no": "800000000001",
}


def store_choices(session: Session) -> list[dict]:
    """Every store, open ones first, as a marketer picks them for an audience."""
    stores = session.execute(select(Store).order_by(Store.is_active.desc(), Store.code)).scalars()
    return [{"id": s.id, "code": s.code, "name": s.name} for s in stores]


def staff_choices(session: Session, store_id: int | None = None) -> list[dict]:
    """Staff accounts by username (one store's when given), as the audit trail filters them."""
    query = select(Staff).order_by(Staff.username)
    if store_id is not None:
        query = query.where(Staff.store_id == store_id)
    return [{"id": s.id, "username": s.username} for s in session.execute(query).scalars()]


def tier_choices(session: Session) -> list[dict]:
    """The tiers of the points program, lowest first."""

    return [
        {"code": t["code"], "name": t["name"]}
        for t in points_program.tiers(points_program.config(session))
    ]


def message_preview(
    session: Session,
    spec: dict,
    official_account: bool,
    member_no: str | None = None,
    now: datetime | None = None,
) -> dict:
    """The message as the member will read it: the template checked against WeChat's rules
    (422 message.invalid_template) and filled with that member's values, or a sample member's."""

    now = now or clock.now()
    message_templates.check_template(spec, official_account)
    if member_no:
        member = session.execute(
            select(Member).where(Member.member_no == member_no)
        ).scalar_one_or_none()
        if member is None:
            raise AppError("member.not_found", message="No member with this number.")
        values = member_values(session, member, None, now)
    else:
        today = clock.business_date(now)
        values = {**SAMPLE_MEMBER, "today": today, "expires_on": _month_end(today)}
    try:
        data = message_templates.fill(spec, values, official_account)
    except ValueError as exc:
        raise AppError(
            "message.invalid_template",
            message="The template's fields break WeChat's rules.",
            details={"template": str(exc)},
        ) from exc
    return {"template_id": spec.get("template_id"), "data": data, "member": values["nickname"]}


def _month_end(day: date) -> date:
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)
