"""The parts of a member's profile owned by other programs: tier, points, check-in, coupons."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from app.models import Member


def tier(session: Session, member: Member) -> dict:
    from app.services.ledger import points_program

    found = points_program.tier_for(points_program.config(session), member.tier_code)
    return {"code": found["code"], "name": found["name"]}


def points(session: Session, member: Member, today: date) -> dict:
    from app.services.ledger import expiring_summary

    return {
        "balance": member.points_balance,
        "expiring": expiring_summary(session, member.id, today),
    }


def checkin(session: Session, member: Member, today: date) -> dict:
    from app.services.checkin import status

    return status(session, member.id, today)


def usable_coupons(session: Session, member: Member, now) -> list[dict]:
    from app.services.coupons import usable_now

    return usable_now(session, member.id, now)
