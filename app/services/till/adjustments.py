"""A manager's correction of a member's points (POST /staff/v1/members/{id}/points/adjustments)."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member, Staff
from app.models.points import PointEntry
from app.services import ledger
from app.services.staff import audit, store_scope


def adjust_points(
    session: Session, staff: Staff, member_id: int, delta: int, reason: str, now=None
) -> PointEntry:
    """A manager's correction, with a reason, audited. Taking points cannot go below zero."""
    now = now or clock.now()
    member = session.get(Member, member_id)
    scope = store_scope(staff)
    if member is None or (scope is not None and member.store_id != scope):
        raise AppError("member.not_found")
    ref = f"adjustment:{secrets.token_hex(12)}"
    common = {
        "reason": "adjustment",
        "ref": ref,
        "now": now,
        "staff_id": staff.id,
        "store_id": staff.store_id,
        "note": reason,
    }
    if delta > 0:
        entry = ledger.earn(session, member_id, delta, **common)
    else:
        entry = ledger.spend(session, member_id, -delta, **common)
    audit.record(
        session, staff, "points.adjust", "member", member_id, {"delta": delta, "reason": reason}
    )
    return entry
