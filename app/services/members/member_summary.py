"""The parts of a member's profile owned by other programs: tier, points, check-in, coupons."""

from __future__ import annotations

import functools
from datetime import date, timedelta

from sqlalchemy import Date, bindparam, text
from sqlalchemy.orm import Session

from app import encryption
from app.models import Member
from app.models.base import UTCDateTime, in_transaction
from app.services.checkin import status
from app.services.coupons import usable_now
from app.services.identifiers import mask_phone
from app.services.ledger import expiring_summary, points_program


def tier(session: Session, member: Member) -> dict:
    return _tier(session, member.tier_code)


def points(session: Session, member: Member, today: date) -> dict:
    return {
        "balance": member.points_balance,
        "expiring": expiring_summary(session, member.id, today),
    }


def checkin(session: Session, member: Member, today: date) -> dict:
    return status(session, member.id, today)


def usable_coupons(session: Session, member: Member, now) -> list[dict]:
    return usable_now(session, member.id, now)


# GET /me in one statement and one round trip: the member's row, the points that expire in the
# next EXPIRING_DAYS days per expiry date (ledger.expiring_summary's rule), and today's and
# yesterday's check-in streaks (checkin.status's rule), the paid membership covering today
# (services.membership.brief's rule), all read with one snapshot. The tier
# comes from the points program's cached settings.
EXPIRING_DAYS = 30
_PROFILE = text(
    """
    SELECT m.id, m.member_no, m.nickname, m.avatar_url, m.phone_encrypted, m.birthday, m.gender,
           m.tier_code, m.referral_code, m.store_id, m.joined_at, m.points_balance,
           soon.days, soon.points,
           (SELECT streak FROM checkins WHERE member_id = m.id AND day = :today),
           (SELECT streak FROM checkins WHERE member_id = m.id AND day = :yesterday),
           paid.name, paid.ends_on, paid.multiplier_percent
    FROM members m
    LEFT JOIN LATERAL (
        SELECT p.name, ms.ends_on, ms.multiplier_percent
        FROM memberships ms JOIN membership_plans p ON p.id = ms.plan_id
        WHERE ms.member_id = m.id AND ms.starts_on <= :today AND ms.ends_on >= :today
    ) paid ON true
    CROSS JOIN LATERAL (
        SELECT array_agg(lots.expires_on ORDER BY lots.expires_on) AS days,
               array_agg(lots.points ORDER BY lots.expires_on) AS points
        FROM (SELECT expires_on, CAST(sum(remaining) AS bigint) AS points
              FROM point_lots
              WHERE member_id = m.id AND remaining > 0
                AND expires_on >= :today AND expires_on <= :until
              GROUP BY expires_on) lots
    ) soon
    WHERE m.id = :mid AND m.closed_at IS NULL
    """
).bindparams(
    bindparam("today", type_=Date()),
    bindparam("yesterday", type_=Date()),
    bindparam("until", type_=Date()),
)


def profile(session: Session, member_id: int, today: date) -> dict | None:
    """What GET /me shows (None for no such member), read in one statement.

    Outside a transaction it runs autocommitted on a pooled connection of its own, as driver SQL
    compiled once (no BEGIN, no ROLLBACK, no ORM: the session's machinery costs more CPU than
    PostgreSQL spends on the statement); inside one (after a write of this request) on the
    session, which sees that write."""
    params = {
        "mid": member_id,
        "today": today,
        "yesterday": today - timedelta(1),
        "until": today + timedelta(days=EXPIRING_DAYS),
    }
    if in_transaction(session):
        row = session.execute(_PROFILE, params).first()
    else:
        engine = session.get_bind()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            row = connection.exec_driver_sql(_profile_sql(engine.dialect), params).first()
    if row is None:
        return None
    (id_, member_no, nickname, avatar_url, phone, birthday, gender, tier_code, referral_code,
     store_id, joined_at, balance, days, amounts, today_streak, yesterday_streak,
     plan_name, paid_until, paid_percent) = row  # fmt: skip
    return {
        "id": id_,
        "member_no": member_no,
        "nickname": nickname,
        "avatar_url": avatar_url,
        "phone_masked": mask_phone(encryption.decrypt_or_none(phone)),
        "birthday": birthday,
        "gender": gender,
        "tier": _tier(session, tier_code),
        "points": {
            "balance": balance,
            "expiring": [
                {"points": int(points), "expires_on": day}
                for day, points in zip(days or (), amounts or (), strict=True)
            ],
        },
        "checkin": {
            "streak": today_streak or yesterday_streak or 0,
            "checked_in_today": today_streak is not None,
        },
        "referral_code": referral_code,
        "store_id": store_id,
        "joined_at": UTCDateTime().process_result_value(joined_at, None),
        "paid_membership": None
        if plan_name is None
        else {"plan": plan_name, "ends_on": paid_until, "multiplier": paid_percent / 100},
    }


def _tier(session: Session, tier_code: str) -> dict:
    found = points_program.tier_for(points_program.config(session), tier_code)
    return {"code": found["code"], "name": found["name"]}


@functools.cache
def _profile_sql(dialect) -> str:
    """_PROFILE as the driver's SQL (named parameters), compiled once."""
    return str(_PROFILE.compile(dialect=dialect))
