"""The parts of a member's profile owned by other programs: tier, points, check-in, coupons."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from app.models import Member
from app.services.checkin import status
from app.services.coupons import usable_now
from app.services.ledger import expiring_summary, points_program


def tier(session: Session, member: Member) -> dict:
    found = points_program.tier_for(points_program.config(session), member.tier_code)
    return {"code": found["code"], "name": found["name"]}


def points(session: Session, member: Member, today: date) -> dict:
    return {
        "balance": member.points_balance,
        "expiring": expiring_summary(session, member.id, today),
    }


def checkin(session: Session, member: Member, today: date) -> dict:
    return status(session, member.id, today)


def usable_coupons(session: Session, member: Member, now) -> list[dict]:
    return usable_now(session, member.id, now)
