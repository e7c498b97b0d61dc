"""Who brought a member in: staff codes, and the attribution of a sign-up to a staff member and
a store (GET /staff/v1/me/invite-code makes the codes, reports.signups counts what they did).

The rule, decided once when the member is created and never changed after: a known staff code
in the sign-in names that staff member and their store (a chain-wide staff member, who has no
store, leaves the store to the sign-in's `store_id`); without one, a follow of the official
account through a staff member's or a store's QR code (linked by unionid) attributes the same
way (first touch: the follow came before this sign-in); otherwise the sign-in's `store_id`. An
unknown or deactivated staff code is as if none was given: the sign-up still succeeds.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import Member, Staff
from app.models.messaging import OaFollower
from app.services.identifiers import CROCKFORD, STAFF_CODE_LENGTH, read_crockford


class SignedUpBy(NamedTuple):
    """The staff member (None: no one) and the store (None: none) a sign-up is credited to."""

    staff_id: int | None
    store_id: int | None


def staff_by_code(session: Session, code: str | None) -> Staff | None:
    """The active staff member whose code this is (as typed or scanned), else None."""
    code = read_crockford(code or "")
    if len(code) != STAFF_CODE_LENGTH or any(ch not in CROCKFORD for ch in code):
        return None
    return session.execute(
        select(Staff).where(Staff.staff_code == code, Staff.is_active.is_(True))
    ).scalar_one_or_none()


def attribution(
    session: Session, staff_code: str | None, store_id: int | None, unionid: str | None
) -> SignedUpBy:
    """What a new member is credited to (the module's rule); `store_id` is a known open store
    or None."""
    staff = staff_by_code(session, staff_code)
    if staff is not None:
        return SignedUpBy(staff.id, staff.store_id or store_id)
    if unionid:
        followed = session.execute(
            select(OaFollower.staff_id, OaFollower.store_id)
            .where(
                OaFollower.unionid == unionid,
                or_(OaFollower.staff_id.is_not(None), OaFollower.store_id.is_not(None)),
            )
            .limit(1)
        ).first()
        if followed is not None:
            return SignedUpBy(followed.staff_id, followed.store_id)
    return SignedUpBy(None, store_id)


def signed_up_by(member: Member) -> SignedUpBy | None:
    """What the member's sign-up was credited to; None when nothing was."""
    if member.signed_up_by_staff_id is None and member.store_id is None:
        return None
    return SignedUpBy(member.signed_up_by_staff_id, member.store_id)
