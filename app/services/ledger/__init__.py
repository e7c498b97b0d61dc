"""The points ledger. Every change of a member's points goes through these building blocks.

Invariant, at every commit: a member's `points_balance` equals the sum of their entries' deltas,
and the sum of their lots' `remaining` equals the balance when it is positive and 0 when it is
negative. A negative balance only comes from reversing points that were already spent (a refund,
a correction); the next earnings repay it before they create a lot, and it blocks spending.

The functions flush but never commit: they run inside the caller's use case, so a lottery draw's
cost and its prize, or a purchase and its points, commit together or not at all. Each entry has a
unique `ref`; repeating a ref is a no-op that returns the first entry. Concurrency: every
operation first locks the member's row (the balance update, or SELECT ... FOR NO KEY UPDATE), so
one member's ledger changes one transaction at a time; spending is an atomic conditional insert
(the entry is written only while the balance covers it, and everything else follows the entry).
The member's row is always locked FOR NO KEY UPDATE (what an UPDATE of the balance takes), never
FOR UPDATE: an insert that references the member (a purchase, a draw, an allowance row) holds
the foreign key's FOR KEY SHARE on it, which FOR UPDATE waits for, so two such transactions on one
member deadlocked. Lock order: the member's row, then their lots (only the lots a statement
changes: the member's lock already keeps every other writer of their lots out).
Lots: one per member and expiry date; earnings that expire together add to it.
Earning, taking and expiring are SQL written once in `rules`, which check-in's one-statement
fast path and the nightly expiry run too. A spend or a debit is three statements however many
lots it takes from: the member's lock, the lazy expiry, rules.TAKE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member
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


def earn_many(
    session: Session,
    member_ids: list[int],
    refs: list[str],
    points: int,
    *,
    reason: str,
    now: datetime | None = None,
    expires_on: date | None = None,
) -> list[int]:
    """Give each member the same points, once per ref (refs[i] for member_ids[i]): the earn rule
    for a whole batch in one statement (rules.EARN_MANY: the members locked in id order). The
    members credited now; those whose ref was used before (a second run) move nothing."""
    if points <= 0:
        raise ValueError("earn_many needs a positive number of points")
    if len(member_ids) != len(refs):
        raise ValueError("one ref per member")
    if not member_ids:
        return []
    now = now or clock.now()
    if expires_on is None:
        expires_on = expiry_for(session, clock.business_date(now))
    rows = session.execute(
        rules.EARN_MANY,
        {
            "ids": list(member_ids),
            "refs": list(refs),
            "points": points,
            "reason": reason,
            "expires_on": expires_on,
            "now": now,
        },
    ).all()
    return [member_id for (member_id,) in rows]


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
    reverses_entry_id: int | None = None,
    staff_id: int | None = None,
    store_id: int | None = None,
    note: str = "",
) -> Entry:
    """Take back points that were granted (a refund): taken from the lots the member still has;
    what is already spent becomes a negative balance. With `reverses_entry_id` (the earning it
    reverses) the entry records it, and the debit takes
    first what that earning still has unspent in its lot (the rule in `rules`), then the rest
    soonest-expiring first."""
    if points <= 0:
        raise ValueError("debit needs a positive number of points")
    return _take(
        session,
        member_id,
        points,
        reason,
        ref,
        now,
        reverses_entry_id,
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
    reverses_entry_id: int | None,
    staff_id: int | None,
    store_id: int | None,
    note: str,
    overdraw: bool,
) -> Entry:
    """Spend (overdraw False: never below zero) or debit (overdraw True: a negative balance is
    debt) `points` under the member's lock, once per ref. Three statements whatever the number
    of lots: the member's lock, the lazy expiry, and rules.TAKE (entry, balance, lots)."""
    now = now or clock.now()
    lock_member(session, member_id)
    expire_member(session, member_id, clock.business_date(now), now)
    known, enough, entry_id, balance_after = session.execute(
        rules.TAKE,
        {
            "mid": member_id,
            "points": points,
            "reason": reason,
            "ref": ref,
            "now": now,
            "staff_id": staff_id,
            "store_id": store_id,
            "note": note or "",
            "overdraw": overdraw,
            "reverses": reverses_entry_id,
        },
    ).one()
    if entry_id is not None:
        return Entry(
            entry_id, member_id, -points, reason, ref, balance_after, None, now, note or ""
        )
    if enough:
        return _existing(session, ref)  # the ref was used before: the first entry
    already = session.execute(select(_ENTRIES.c.id).where(_ENTRIES.c.ref == ref)).first()
    if already is not None:
        return _existing(session, ref)
    raise AppError("points.insufficient", 409, "Not enough points.", {"needed": points})


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
