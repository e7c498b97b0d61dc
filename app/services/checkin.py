"""Daily check-in: one per business day, rewards by streak, make-ups for missed days."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member
from app.models.base import insert_ignore
from app.models.checkin import Checkin, MakeupAllowance
from app.services import points, programs

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


_LOCK_WITH_STREAK_BEFORE = (
    select(
        Member.points_balance,
        select(Checkin.streak)
        .where(Checkin.member_id == bindparam("mid"), Checkin.day == bindparam("yesterday"))
        .scalar_subquery(),
    )
    .where(Member.id == bindparam("mid"))
    .with_for_update(of=Member)
)


def _lock_with_streak_before(session: Session, member_id: int, day: date) -> tuple[int, int]:
    """Lock the member (one check-in at a time) and read the streak of the day before, in one
    round trip: check-in is the busiest write of the morning."""
    row = session.execute(
        _LOCK_WITH_STREAK_BEFORE, {"mid": member_id, "yesterday": day - timedelta(1)}
    ).one_or_none()
    if row is None:
        raise AppError("member.not_found", 404, "No such member.")
    return row[0], row[1] or 0


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


def check_in(session: Session, member_id: int, now: datetime | None = None) -> dict:
    """Check in for today (business day): once a day, reward by the day of the streak."""
    now = now or clock.now()
    today = clock.business_date(now)
    cfg = rules(session)
    balance, previous = _lock_with_streak_before(session, member_id, today)
    streak = previous + 1
    reward = reward_for(cfg, streak)
    _insert(session, member_id, today, streak, reward, "daily", now)
    entry = points.earn(
        session,
        member_id,
        reward,
        reason="checkin",
        ref=f"checkin:{member_id}:{today}",
        now=now,
        locked_balance=balance,
    )
    session.commit()
    return {
        "date": today,
        "streak": streak,
        "points_awarded": reward,
        "balance": entry.balance_after,
    }


def make_up(session: Session, member_id: int, day: date, now: datetime | None = None) -> dict:
    """Check in for a missed past day within the window, paying the make-up cost in points.

    The streak is repaired as if the day had been checked in; the made-up day earns the reward
    for its place in the streak (later days keep what they were paid).
    """
    now = now or clock.now()
    today = clock.business_date(now)
    cfg = rules(session)
    points.lock_member(session, member_id)  # one check-in or make-up per member at a time
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
        points.spend(
            session, member_id, cost, reason="makeup", ref=f"makeup:{member_id}:{day}", now=now
        )
    entry = points.earn(
        session, member_id, reward, reason="checkin", ref=f"checkin:{member_id}:{day}", now=now
    )
    _repair_following(session, member_id, day, streak, today)
    session.commit()
    return {"date": day, "streak": streak, "points_awarded": reward, "balance": entry.balance_after}


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


def _repair_following(session: Session, member_id: int, day: date, streak: int, today: date):
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
    days = (
        session.execute(
            select(Checkin.day)
            .where(Checkin.member_id == member_id, Checkin.day >= first, Checkin.day < after)
            .order_by(Checkin.day)
        )
        .scalars()
        .all()
    )
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
        "days": days,
        "streak": status(session, member_id, today)["streak"],
        "makeups_left_this_month": max(0, int(cfg["makeup_monthly_cap"]) - used),
        "rules": {
            "rewards": cfg["rewards"],
            "makeup_cost": cfg["makeup_cost"],
            "makeup_window_days": cfg["makeup_window_days"],
            "makeup_monthly_cap": cfg["makeup_monthly_cap"],
        },
    }
