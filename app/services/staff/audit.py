"""The audit trail of staff writes."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import AuditEntry, Staff


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
