"""Daily check-in: one per business day, rewards by streak, make-ups for missed days."""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

from sqlalchemy import Date, Integer, bindparam, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member
from app.models.base import UTCDateTime, in_transaction, insert_ignore
from app.models.checkin import Checkin, MakeupAllowance
from app.services import ledger, programs
from app.services.ledger.rules import earn_ctes
from app.unit_of_work import is_atomic

DEFAULTS = {
    # Points for day 1, 2, ... of a streak; after the last day the cycle starts again.
    "rewards": [5, 5, 10, 5, 5, 10, 30],
    "makeup_cost": 20,  # points a make-up costs
    "makeup_window_days": 7,  # how far back a missed day can be made up
    "makeup_monthly_cap": 2,  # make-ups per calendar month (the month they are made in)
}
programs.register_defaults("checkin", DEFAULTS)


def rules(session: Session) -> dict:
    return programs.get_config(session, "checkin")


def reward_for(cfg: dict, streak: int) -> int:
    rewards = cfg["rewards"]
    return int(rewards[(streak - 1) % len(rewards)])


def _streak_before(session: Session, member_id: int, day: date) -> int:
    previous = session.execute(
        select(Checkin.streak).where(
            Checkin.member_id == member_id, Checkin.day == day - timedelta(1)
        )
    ).scalar_one_or_none()
    return previous or 0


def _insert(session: Session, member_id: int, day: date, streak: int, reward: int, kind, now):
    inserted = insert_ignore(
        session,
        Checkin,
        {
            "member_id": member_id,
            "day": day,
            "streak": streak,
            "points_awarded": reward,
            "kind": kind,
            "created_at": now,
        },
        "member_id",
        "day",
    )
    if inserted.rowcount == 0:
        raise AppError("checkin.already_done", 409, f"Already checked in for {day.isoformat()}.")


# The whole check-in is one statement, run as its own transaction, since the morning rush is
# bound by round trips. It locks the member, reads yesterday's streak and inserts today (the
# unique (member, day) makes a second check-in insert nothing); then it pays the reward by the
# ledger's earn rule (ledger.rules.earn_ctes, the same SQL as ledger.earn), crediting the balance
# it locked. Each step reads the RETURNING of the one before, so nothing moves unless today was
# new; a day whose reward is 0 moves nothing either. The statement reads with the snapshot it
# started with, even after waiting for the member's lock: if the member changed meanwhile (a
# make-up of yesterday, say), it changes nothing and says so ("stale"), and the check-in runs
# again behind the lock, where it sees everything.
_CHECK_IN = text(
    f"""
    WITH member AS MATERIALIZED (
        SELECT id, points_balance, xmin::text AS version FROM members
        WHERE id = :mid AND closed_at IS NULL
        FOR NO KEY UPDATE
    ), seen AS MATERIALIZED (
        SELECT xmin::text AS version FROM members WHERE id = :mid
    ), checkin AS (
        INSERT INTO checkins (member_id, day, streak, points_awarded, kind, created_at)
        SELECT member.id, :today, previous.streak + 1,
               (:rewards)[previous.streak % cardinality(:rewards) + 1], 'daily', :now
        FROM member, seen,
             (SELECT COALESCE((SELECT streak FROM checkins
                               WHERE member_id = :mid AND day = :yesterday), 0) AS streak) previous
        WHERE member.version = seen.version
        ON CONFLICT (member_id, day) DO NOTHING
        RETURNING member_id, streak, points_awarded
    ), credit AS (
        SELECT checkin.member_id, checkin.points_awarded AS points,
               member.points_balance AS balance, CAST('checkin' AS varchar) AS reason,
               CAST(:ref AS varchar) AS ref, :expires_on AS expires_on, :now AS created_at,
               CAST(NULL AS bigint) AS staff_id, CAST(NULL AS bigint) AS store_id,
               CAST('' AS varchar) AS note
        FROM checkin, member
    ), {earn_ctes("credit")}
    SELECT member.id IS NOT NULL, member.version <> seen.version, checkin.streak,
           checkin.points_awarded, COALESCE(earn_moved.points_balance, member.points_balance)
    FROM (SELECT 1) one
    LEFT JOIN member ON true LEFT JOIN seen ON true LEFT JOIN checkin ON true
    LEFT JOIN earn_moved ON true
    """
).bindparams(
    bindparam("now", type_=UTCDateTime()),
    bindparam("today", type_=Date()),
    bindparam("yesterday", type_=Date()),
    bindparam("expires_on", type_=Date()),
    bindparam("rewards", type_=postgresql.ARRAY(Integer())),
)


def check_in(session: Session, member_id: int, now: datetime | None = None) -> dict:
    """Check in for today (business day): once a day, reward by the day of the streak."""
    now = now or clock.now()
    today = clock.business_date(now)
    cfg = rules(session)
    streak, reward, balance = _check_in_statement(session, cfg, member_id, today, now)
    return {"date": today, "streak": streak, "points_awarded": reward, "balance": balance}


def _check_in_statement(session: Session, cfg: dict, member_id: int, today: date, now: datetime):
    params = {
        "mid": member_id,
        "today": today,
        "yesterday": today - timedelta(1),
        "rewards": [int(r) for r in cfg["rewards"]],
        "now": now,
        "ref": _ref(member_id, today),
        "expires_on": ledger.expiry_for(session, today),
    }
    if is_atomic(session):
        # With an Idempotency-Key: in the caller's transaction, which commits the check-in and
        # the stored answer together.
        row = session.execute(_CHECK_IN, params).one()
    else:
        row = _check_in_autocommit(session, params, now)
    known, stale, streak, reward, balance = row
    if stale:
        ledger.lock_member(session, member_id)  # a transaction; the statement reads after this
        known, stale, streak, reward, balance = session.execute(_CHECK_IN, params).one()
    if not known:
        raise AppError("member.not_found", 404, "No such member.")
    if streak is None:
        raise AppError("checkin.already_done", 409, f"Already checked in for {today.isoformat()}.")
    return streak, reward, balance


def _check_in_autocommit(session: Session, params: dict, now: datetime):
    if in_transaction(session):
        session.commit()  # what came before (a settings read, say) ends here
    # One statement is its own transaction: without BEGIN and COMMIT it is one round trip. It
    # runs on a pooled connection of its own, as driver SQL compiled once: the session's and the
    # compiler's machinery cost more CPU than PostgreSQL spends on the statement.
    engine = session.get_bind()
    # Driver SQL skips the column types' bind processing: the one rule that matters here is
    # UTCDateTime's (aware instants only, in UTC), applied by the type itself.
    driver_params = {**params, "now": UTCDateTime().process_bind_param(now, engine.dialect)}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.exec_driver_sql(_check_in_sql(engine.dialect), driver_params).one()


@functools.cache
def _check_in_sql(dialect) -> str:
    """_CHECK_IN as the driver's SQL (named parameters, typed casts), compiled once."""
    return str(_CHECK_IN.compile(dialect=dialect))


def _ref(member_id: int, day: date) -> str:
    """The ledger reference of a day's check-in reward (the same for a make-up of that day)."""
    return f"checkin:{member_id}:{day}"


def make_up(session: Session, member_id: int, day: date, now: datetime | None = None) -> dict:
    """Check in for a missed past day within the window, paying the make-up cost in points.

    The streak is repaired as if the day had been checked in: the made-up day earns the reward
    for its place in the streak, and each later day of the repaired streak is paid what its new
    place earns beyond what it was paid (never less than it was paid).
    """
    now = now or clock.now()
    today = clock.business_date(now)
    cfg = rules(session)
    ledger.lock_member(session, member_id)  # one check-in or make-up per member at a time
    # Change the member's row even when no points move (a free make-up of a 0-point day): a
    # check-in waiting behind this make-up then sees the member changed and reads the streak
    # again (see _CHECK_IN).
    session.execute(update(Member).where(Member.id == member_id).values(updated_at=now))
    joined_at = session.execute(select(Member.joined_at).where(Member.id == member_id)).scalar_one()
    earliest = max(
        today - timedelta(days=int(cfg["makeup_window_days"])),
        clock.business_date(joined_at),
    )
    if not (earliest <= day < today):
        raise AppError(
            "checkin.makeup_out_of_window",
            422,
            f"Only days from {earliest.isoformat()} to yesterday can be made up.",
            {"date": [f"Between {earliest.isoformat()} and {(today - timedelta(1)).isoformat()}."]},
        )
    streak = _streak_before(session, member_id, day) + 1
    reward = reward_for(cfg, streak)
    _insert(session, member_id, day, streak, reward, "makeup", now)
    _use_allowance(session, member_id, today.strftime("%Y-%m"), int(cfg["makeup_monthly_cap"]))
    cost = int(cfg["makeup_cost"])
    if cost > 0:
        ledger.spend(
            session, member_id, cost, reason="makeup", ref=f"makeup:{member_id}:{day}", now=now
        )
    if reward > 0:
        ledger.earn(session, member_id, reward, reason="checkin", ref=_ref(member_id, day), now=now)
    _repair_following(session, cfg, member_id, day, streak, today, now)
    balance = ledger.lock_member(session, member_id)
    return {"date": day, "streak": streak, "points_awarded": reward, "balance": balance}


def _use_allowance(session: Session, member_id: int, month: str, cap: int) -> None:
    insert_ignore(
        session,
        MakeupAllowance,
        {"member_id": member_id, "month": month, "used": 0},
        "member_id",
        "month",
    )
    used = session.execute(
        update(MakeupAllowance)
        .where(
            MakeupAllowance.member_id == member_id,
            MakeupAllowance.month == month,
            MakeupAllowance.used < cap,
        )
        .values(used=MakeupAllowance.used + 1)
        .returning(MakeupAllowance.used)
    ).scalar_one_or_none()
    if used is None:
        raise AppError(
            "checkin.makeup_limit_reached", 409, f"Only {cap} make-ups a month.", {"cap": cap}
        )


def _repair_following(
    session: Session, cfg: dict, member_id: int, day: date, streak: int, today: date, now
) -> None:
    """Renumber the days that follow the made-up `day` in one run, and pay each the difference
    its new place in the streak earns, through the ledger: one entry per re-priced day, ref
    `checkin:<member>:<that day>:repriced-by:<day>`, unique because a day is made up once (a
    retry is refused as checkin.already_done before anything moves). The member is locked, so
    no check-in of those days runs meanwhile. A day's points_awarded stays the sum of what the
    ledger paid for it."""
    following = session.execute(
        select(Checkin)
        .where(Checkin.member_id == member_id, Checkin.day > day, Checkin.day <= today)
        .order_by(Checkin.day)
    ).scalars()
    expected_day, running = day + timedelta(1), streak
    for row in following:
        if row.day != expected_day:
            break
        running += 1
        row.streak = running
        owed = reward_for(cfg, running) - row.points_awarded
        if owed > 0:
            ledger.earn(
                session,
                member_id,
                owed,
                reason="checkin",
                ref=f"{_ref(member_id, row.day)}:repriced-by:{day}",
                now=now,
            )
            row.points_awarded += owed
        expected_day += timedelta(1)


def status(session: Session, member_id: int, today: date) -> dict:
    """The streak as the member sees it: today's if checked in, else yesterday's, else 0."""
    rows = dict(
        session.execute(
            select(Checkin.day, Checkin.streak).where(
                Checkin.member_id == member_id, Checkin.day.in_([today, today - timedelta(1)])
            )
        ).all()
    )
    streak = rows.get(today) or rows.get(today - timedelta(1)) or 0
    return {"streak": streak, "checked_in_today": today in rows}


def month_calendar(session: Session, member_id: int, month: str, today: date) -> dict:
    """Days checked in during `month` (YYYY-MM), the current streak and the rules."""
    first = date.fromisoformat(month + "-01")
    after = (first + timedelta(days=32)).replace(day=1)
    checkins = [
        {"date": row.day, "streak": row.streak, "points_awarded": row.points_awarded,
         "kind": row.kind}
        for row in session.execute(
            select(Checkin.day, Checkin.streak, Checkin.points_awarded, Checkin.kind)
            .where(Checkin.member_id == member_id, Checkin.day >= first, Checkin.day < after)
            .order_by(Checkin.day)
        )
    ]  # fmt: skip
    cfg = rules(session)
    used = (
        session.execute(
            select(MakeupAllowance.used).where(
                MakeupAllowance.member_id == member_id,
                MakeupAllowance.month == today.strftime("%Y-%m"),
            )
        ).scalar_one_or_none()
        or 0
    )
    return {
        "month": month,
        "days": [c["date"] for c in checkins],
        "checkins": checkins,
        "streak": status(session, member_id, today)["streak"],
        "makeups_left_this_month": max(0, int(cfg["makeup_monthly_cap"]) - used),
        "rules": {
            "rewards": cfg["rewards"],
            "makeup_cost": cfg["makeup_cost"],
            "makeup_window_days": cfg["makeup_window_days"],
            "makeup_monthly_cap": cfg["makeup_monthly_cap"],
        },
    }
