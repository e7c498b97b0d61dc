"""The seam to the coupons program (issue 4): push a coupon with a wake-up or a campaign."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session


def available() -> bool:
    try:
        from app.services.coupons import issue_coupon  # noqa: F401
    except ImportError:
        return False
    return True


def push_coupon(
    session: Session,
    template_id: int,
    member_id: int,
    *,
    source: str,
    ref: str,
    now: datetime,
):
    """Give the member one coupon of the template, once per `ref` (flushes, never commits)."""
    try:
        from app.services.coupons import issue_coupon
    except ImportError:  # the coupons program is not installed: the message goes without one
        return None
    return issue_coupon(session, template_id, member_id, source=source, ref=ref, now=now)
