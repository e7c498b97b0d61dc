"""The audit trail of staff writes."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import AuditEntry, Staff
from app.models.staff import CHAIN_ROLES
from app.services import pagination


def record(
    session: Session,
    staff: Staff,
    action: str,
    target_type: str,
    target_id: object,
    details: dict | None = None,
    store_id: int | None = None,
) -> AuditEntry:
    """Record that `staff` did `action` on a target (added to the session; the use case commits)."""
    entry = AuditEntry(
        staff_id=staff.id,
        store_id=store_id if store_id is not None else staff.store_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        details=details or {},
    )
    session.add(entry)
    return entry


class AuditRow(NamedTuple):
    """An audit entry with the username of the staff member who wrote it."""

    entry: AuditEntry
    username: str


def list_entries(
    session: Session,
    staff: Staff,
    *,
    staff_id: int | None = None,
    store_id: int | None = None,
    action: str | None = None,
    first: date | None = None,
    last: date | None = None,
    limit: int = 20,
    after: int | None = None,
) -> pagination.Page:
    """Staff writes, newest first, filtered by who, which store, what and business days
    [first, last]. Admins (and marketers) read every store's; a manager reads only their own
    store's entries: asking for another store is 403 auth.forbidden. Two statements a page."""
    query = select(AuditEntry)
    if staff.role not in CHAIN_ROLES:
        if store_id is not None and store_id != staff.store_id:
            raise AppError("auth.forbidden", message="A manager reads only their store's trail.")
        store_id = staff.store_id
    if staff_id is not None:
        query = query.where(AuditEntry.staff_id == staff_id)
    if store_id is not None:
        query = query.where(AuditEntry.store_id == store_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if first is not None:
        query = query.where(AuditEntry.created_at >= clock.business_day_start(first))
    if last is not None:
        query = query.where(AuditEntry.created_at < clock.business_day_end(last))
    found = pagination.page(session, query, AuditEntry.id, limit, after)
    ids = {entry.staff_id for entry in found.items}
    names = (
        dict(session.execute(select(Staff.id, Staff.username).where(Staff.id.in_(ids))).all())
        if ids
        else {}
    )
    rows = [AuditRow(entry, names.get(entry.staff_id, "")) for entry in found.items]
    return pagination.Page(rows, found.next_cursor)
