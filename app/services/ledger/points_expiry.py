"""The nightly expiry of points: set-based, a range of member ids at a time, safe to run twice or
resume."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Member
from app.services.ledger import rules

RANGE = 5000  # member ids per statement (and per transaction)


def expire_due_lots(session: Session, today: date, now: datetime, width: int = RANGE) -> dict:
    """Expire every lot whose last day was before `today`; one ledger entry per member.

    The member ids are walked in ranges of `width`; each range is one statement
    (rules.EXPIRE_RANGE: its members with a lot due locked in id order, their due lots emptied,
    one entry `expiry:<member>:<today>` each, their balances moved) and one commit. A crash loses
    at most the range in flight; running again finds only what is still due (a member expired
    already has no lot due, and the unique ref stops a second entry for the same night).
    """
    low, high = session.execute(select(func.min(Member.id), func.max(Member.id))).one()
    session.commit()
    members = points = 0
    if low is None:
        return {"members": 0, "points": 0}
    for start in range(low, high + 1, width):
        done_members, done_points = _expire_range(session, start, start + width - 1, today, now)
        session.commit()
        members += done_members
        points += done_points
    return {"members": members, "points": points}


def _expire_range(
    session: Session, low: int, high: int, today: date, now: datetime
) -> tuple[int, int]:
    row = session.execute(
        rules.EXPIRE_RANGE,
        {"lo": low, "hi": high, "today": today, "now": now, "stamp": today.isoformat()},
    ).one()
    return int(row[0]), int(row[1])
