"""The points ledger. Every change of a member's points goes through these building blocks.

Invariant, at every commit: a member's `points_balance` equals the sum of their entries' deltas,
and the sum of their lots' `remaining` equals the balance when it is positive and 0 when it is
negative. A negative balance only comes from reversing points that were already spent (a refund,
a correction); the next earnings repay it before they create a lot, and it blocks spending.

The functions flush but never commit: they run inside the caller's use case, so a lottery draw's
cost and its prize, or a purchase and its points, commit together or not at all. Each entry has a
unique `ref`; repeating a ref is a no-op that returns the first entry. Concurrency: every
operation first locks the member's row (the balance update, or SELECT ... FOR NO KEY UPDATE), so
one member's ledger changes one transaction at a time; spending is an atomic conditional update.
The member's row is always locked FOR NO KEY UPDATE (what an UPDATE of the balance takes), never
FOR UPDATE: an insert that references the member (a purchase, a draw, an allowance row) holds
the foreign key's FOR KEY SHARE on it, which FOR UPDATE waits for, so two such transactions on one
member deadlocked. Lock order: the member's row, then their lots.
Earning and expiring are SQL written once in `rules`, which check-in's one-statement fast path
and the nightly expiry run too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import BigInteger, bindparam, cast, func, select, update
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member
from app.models.base import insert_ignore
from app.models.points import PointEntry, PointLot
from app.services import pagination
from app.services.ledger import points_program, rules


@dataclass(frozen=True)
class Entry:
    """A ledger entry as the callers see it."""

    id: int
    member_id: int
    delta: int
    reason: str
    ref: str
    balance_after: int
    expires_on: date | None
    created_at: datetime
    note: str = ""


_ENTRIES = PointEntry.__table__
_LOTS = PointLot.__table__
_MEMBERS = Member.__table__


def _existing(session: Session, ref: str) -> Entry:
    row = session.execute(select(_ENTRIES).where(_ENTRIES.c.ref == ref)).one()
    return Entry(
        row.id,
        row.member_id,
        row.delta,
        row.reason,
        row.ref,
        row.balance_after,
        row.expires_on,
        row.created_at,
        row.note,
    )


def balance_of(session: Session, member_id: int) -> int:
    """The member's balance as the database has it now (not a Member loaded earlier in the
    transaction: the ledger moves balances by statements that the session's objects don't see)."""
    return session.scalar(select(Member.points_balance).where(Member.id == member_id))


def lock_member(session: Session, member_id: int) -> int:
    """Lock the member's row for this transaction and return their balance (404 if unknown).

    FOR NO KEY UPDATE: it does not wait for the FOR KEY SHARE that this or another transaction's
    insert of a row referencing the member holds (see the module's docstring)."""
    balance = session.execute(
        select(_MEMBERS.c.points_balance)
        .where(_MEMBERS.c.id == member_id)
        .with_for_update(key_share=True)
    ).scalar_one_or_none()
    if balance is None:
        raise AppError("member.not_found", 404, "No such member.")
    return balance


def _write_entry(
    session: Session,
    member_id: int,
    delta: int,
    reason: str,
    ref: str,
    balance_after: int,
    expires_on: date | None,
    now: datetime,
    staff_id=None,
    store_id=None,
    note: str = "",
) -> Entry | None:
    """Insert the entry unless its ref was used before (then None)."""
    values = {
        "member_id": member_id,
        "delta": delta,
        "reason": reason,
        "ref": ref,
        "balance_after": balance_after,
        "expires_on": expires_on,
        "created_at": now,
        "staff_id": staff_id,
        "store_id": store_id,
        "note": note or "",
    }
    inserted = insert_ignore(session, PointEntry, values, "ref")
    if not inserted.rowcount:
        return None
    return Entry(
        inserted.inserted[0],
        member_id,
        delta,
        reason,
        ref,
        balance_after,
        expires_on,
        now,
        note or "",
    )


# Built once: the busiest statements of the ledger (check-in and purchase paths).
_MOVE = (
    update(_MEMBERS)
    .where(_MEMBERS.c.id == bindparam("mid"))
    .values(points_balance=_MEMBERS.c.points_balance + bindparam("delta"))
    .returning(_MEMBERS.c.points_balance)
)
_MOVE_IF_ENOUGH = _MOVE.where(_MEMBERS.c.points_balance >= bindparam("at_least"))


def _move_balance(session: Session, member_id: int, delta: int, at_least: int | None = None):
    """Add `delta` to the balance (only while balance >= at_least); the new balance or None."""
    if at_least is None:
        return session.execute(_MOVE, {"mid": member_id, "delta": delta}).scalar_one_or_none()
    return session.execute(
        _MOVE_IF_ENOUGH, {"mid": member_id, "delta": delta, "at_least": at_least}
    ).scalar_one_or_none()


def earn(
    session: Session,
    member_id: int,
    points: int,
    *,
    reason: str,
    ref: str,
    now: datetime | None = None,
    expires_on: date | None = None,
    staff_id: int | None = None,
    store_id: int | None = None,
    note: str = "",
) -> Entry:
    """Add points: first repay any negative balance, then the rest becomes a lot that expires
    by the program's policy (or on `expires_on`). One statement: the rule of rules.earn_ctes."""
    if points <= 0:
        raise ValueError("earn needs a positive number of points")
    now = now or clock.now()
    if expires_on is None:
        expires_on = expiry_for(session, clock.business_date(now))
    known, entry_id, balance_after = session.execute(
        rules.EARN,
        {
            "mid": member_id,
            "points": points,
            "reason": reason,
            "ref": ref,
            "expires_on": expires_on,
            "now": now,
            "staff_id": staff_id,
            "store_id": store_id,
            "note": note or "",
        },
    ).one()
    if not known:
        raise AppError("member.not_found", 404, "No such member.")
    if entry_id is None:
        return _existing(session, ref)
    return Entry(
        entry_id, member_id, points, reason, ref, balance_after, expires_on, now, note or ""
    )


def expiry_for(session: Session, earned_on: date) -> date:
    """The last day on which points earned on `earned_on` (a business day) can be spent."""
    return points_program.expiry_date(points_program.config(session), earned_on)


def spend(
    session: Session,
    member_id: int,
    points: int,
    *,
    reason: str,
    ref: str,
    now: datetime | None = None,
    staff_id: int | None = None,
    store_id: int | None = None,
    note: str = "",
) -> Entry:
    """Take points the member has: never below zero (409 points.insufficient), soonest-expiring
    lots first. Points past their expiry date are expired first, so they cannot be spent."""
    if points <= 0:
        raise ValueError("spend needs a positive number of points")
    return _take(
        session, member_id, points, reason, ref, now, None, staff_id, store_id, note, False
    )


def debit(
    session: Session,
    member_id: int,
    points: int,
    *,
    reason: str,
    ref: str,
    now: datetime | None = None,
    prefer_entry_id: int | None = None,
    staff_id: int | None = None,
    store_id: int | None = None,
    note: str = "",
) -> Entry:
    """Take back points that were granted (a refund): taken from the lots the member still has,
    the named earning's lot first; what is already spent becomes a negative balance."""
    if points <= 0:
        raise ValueError("debit needs a positive number of points")
    return _take(
        session,
        member_id,
        points,
        reason,
        ref,
        now,
        prefer_entry_id,
        staff_id,
        store_id,
        note,
        True,
    )


def _take(
    session: Session,
    member_id: int,
    points: int,
    reason: str,
    ref: str,
    now: datetime | None,
    prefer_entry_id: int | None,
    staff_id: int | None,
    store_id: int | None,
    note: str,
    overdraw: bool,
) -> Entry:
    """Spend (overdraw False: never below zero) or debit (overdraw True: a negative balance is
    debt) `points` under the member's lock, once per ref."""
    now = now or clock.now()
    balance = lock_member(session, member_id)
    balance -= expire_member(session, member_id, clock.business_date(now), now)
    if not overdraw and balance < points:
        already = session.execute(select(_ENTRIES.c.id).where(_ENTRIES.c.ref == ref)).first()
        if already is not None:
            return _existing(session, ref)
        raise AppError("points.insufficient", 409, "Not enough points.", {"needed": points})
    entry = _write_entry(
        session,
        member_id,
        -points,
        reason,
        ref,
        balance - points,
        None,
        now,
        staff_id,
        store_id,
        note,
    )
    if entry is None:
        return _existing(session, ref)
    if overdraw:
        _move_balance(session, member_id, -points)
    # The conditional update is the guard of last resort: never below zero by spending.
    elif _move_balance(session, member_id, -points, at_least=points) is None:
        raise AppError("points.insufficient", 409, "Not enough points.", {"needed": points})
    _consume_lots(session, member_id, points, prefer_entry_id=prefer_entry_id)
    return entry


def _consume_lots(session: Session, member_id: int, points: int, prefer_entry_id) -> int:
    """Take up to `points` from the member's lots; returns how many were taken."""
    order = [_LOTS.c.expires_on, _LOTS.c.id]
    if prefer_entry_id is not None:
        order.insert(0, (_LOTS.c.entry_id != prefer_entry_id))
    lots = session.execute(
        select(_LOTS.c.id, _LOTS.c.remaining)
        .where(_LOTS.c.member_id == member_id, _LOTS.c.remaining > 0)
        .order_by(*order)
        .with_for_update()
    ).all()
    left = points
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        session.execute(
            update(_LOTS).where(_LOTS.c.id == lot.id).values(remaining=_LOTS.c.remaining - take)
        )
        left -= take
    return points - left


def expire_member(session: Session, member_id: int, today: date, now: datetime) -> int:
    """Expire one member's lots whose last day was before `today` (member row already locked).

    Writes one entry `expiry:<member>:<today>`; returns the points expired.
    """
    return expire_members(session, [member_id], today, now).get(member_id, 0)


def expire_members(
    session: Session, member_ids: list[int], today: date, now: datetime
) -> dict[int, int]:
    """Expire the lots of these members (rows already locked) whose last day was before `today`:
    one entry `expiry:<member>:<today>` each. Returns the points expired per member."""
    rows = session.execute(
        rules.EXPIRE_DUE,
        {"ids": list(member_ids), "today": today, "now": now, "stamp": today.isoformat()},
    ).all()
    return {member_id: points for member_id, points in rows}


def expiring_summary(session: Session, member_id: int, today: date, days: int = 30) -> list[dict]:
    """Points that expire in the next `days` days, per expiry date (soonest first)."""
    rows = session.execute(
        select(PointLot.expires_on, cast(func.sum(PointLot.remaining), BigInteger))
        .where(
            PointLot.member_id == member_id,
            PointLot.remaining > 0,
            PointLot.expires_on >= today,
            PointLot.expires_on <= today + timedelta(days=days),
        )
        .group_by(PointLot.expires_on)
        .order_by(PointLot.expires_on)
    ).all()
    return [{"points": int(total), "expires_on": day} for day, total in rows]


def entries(session: Session, member_id: int, limit: int, cursor: int | None) -> pagination.Page:
    """Every movement of the member's points, newest first, a page at a time."""
    query = select(PointEntry).where(PointEntry.member_id == member_id)
    return pagination.page(session, query, PointEntry.id, limit, cursor)
