"""The ledger's rules as SQL, written once: earning and expiring.

`ledger.earn` and check-in's one-statement fast path both run `earn_ctes`; `ledger.expire_member`
and the nightly expiry both run `EXPIRE_DUE`. Nothing else writes points_balance, point_entries
or point_lots.

The earn rule: an entry with a unique ref (a ref used before writes nothing and moves nothing);
the balance moves by the points, so a negative balance is repaid first; the entry records the
balance after; what is left once the debt is repaid, min(points, balance after), becomes a lot
that expires on the entry's expiry date. Lots never merge: one per earning entry.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Date, bindparam, text
from sqlalchemy.dialects import postgresql

from app.models.base import UTCDateTime


def earn_ctes(credit: str, name: str = "earn") -> str:
    """The earn rule as CTEs over `credit`, a relation (a CTE defined before these) of at most one
    row per member with the columns member_id, points, balance, reason, ref, expires_on,
    created_at, staff_id, store_id, note (typed as their table's columns), where `balance` is the
    member's balance read under the row lock of this statement or of its transaction (FOR NO KEY
    UPDATE returns the latest version).

    Defines `<name>_entry` (id, member_id, delta, balance_after, expires_on, created_at: empty
    when the ref was used before or the points are not positive), `<name>_moved` (member_id,
    points_balance: the new balance) and `<name>_lot`. Every step reads the RETURNING of the
    entry, so nothing moves unless the entry is new.
    """
    return f"""
    {name}_entry AS (
        INSERT INTO point_entries (member_id, delta, reason, ref, balance_after, expires_on,
                                   created_at, staff_id, store_id, note)
        SELECT member_id, points, reason, ref, balance + points, expires_on, created_at,
               staff_id, store_id, note
        FROM {credit} WHERE points > 0
        ON CONFLICT (ref) DO NOTHING
        RETURNING id, member_id, delta, balance_after, expires_on, created_at
    ), {name}_moved AS (
        UPDATE members SET points_balance = members.points_balance + e.delta,
                           updated_at = e.created_at
        FROM {name}_entry e WHERE members.id = e.member_id
        RETURNING members.id AS member_id, members.points_balance
    ), {name}_lot AS (
        INSERT INTO point_lots (member_id, entry_id, earned, remaining, expires_on, created_at)
        SELECT member_id, id, LEAST(delta, balance_after), LEAST(delta, balance_after),
               expires_on, created_at
        FROM {name}_entry WHERE balance_after > 0
    )"""


# One member's earning: lock the member, then the rule. `known` is false for an unknown member;
# `entry_id` is NULL when the ref was used before.
EARN = text(
    f"""
    WITH member AS MATERIALIZED (
        SELECT id, points_balance FROM members WHERE id = :mid FOR NO KEY UPDATE
    ), credit AS (
        SELECT id AS member_id, CAST(:points AS bigint) AS points, points_balance AS balance,
               CAST(:reason AS varchar) AS reason, CAST(:ref AS varchar) AS ref,
               :expires_on AS expires_on, :now AS created_at,
               CAST(:staff_id AS bigint) AS staff_id, CAST(:store_id AS bigint) AS store_id,
               CAST(:note AS varchar) AS note
        FROM member
    ), {earn_ctes("credit")}
    SELECT member.id IS NOT NULL, earn_entry.id, earn_entry.balance_after
    FROM (SELECT 1) one LEFT JOIN member ON true LEFT JOIN earn_entry ON true
    """
).bindparams(
    bindparam("now", type_=UTCDateTime()),
    bindparam("expires_on", type_=Date()),
)


# The expire rule, for any set of members whose rows the transaction has already locked (so this
# statement's snapshot sees their latest lots and balances): every lot whose last day was before
# :today is emptied, and each member gets one entry `expiry:<member>:<today>` for the sum. A
# member whose entry for today exists already (expired earlier today) is left alone: nothing
# moves without its entry. Returns (member_id, points expired) per member.
EXPIRE_DUE = text(
    """
    WITH due AS MATERIALIZED (
        SELECT id, member_id, remaining FROM point_lots
        WHERE member_id = ANY(:ids) AND remaining > 0 AND expires_on < :today
        FOR UPDATE
    ), per_member AS (
        SELECT member_id, CAST(SUM(remaining) AS bigint) AS points FROM due GROUP BY member_id
    ), entry AS (
        INSERT INTO point_entries (member_id, delta, reason, ref, balance_after, created_at, note)
        SELECT p.member_id, -p.points, 'expiry',
               'expiry:' || p.member_id || ':' || CAST(:stamp AS text),
               m.points_balance - p.points, :now, ''
        FROM per_member p JOIN members m ON m.id = p.member_id
        ON CONFLICT (ref) DO NOTHING
        RETURNING member_id, delta
    ), emptied AS (
        UPDATE point_lots SET remaining = 0
        FROM due JOIN entry ON entry.member_id = due.member_id
        WHERE point_lots.id = due.id
    ), moved AS (
        UPDATE members SET points_balance = members.points_balance + entry.delta,
                           updated_at = :now
        FROM entry WHERE members.id = entry.member_id
    )
    SELECT member_id, -delta FROM entry ORDER BY member_id
    """
).bindparams(
    bindparam("ids", type_=postgresql.ARRAY(BigInteger())),
    bindparam("today", type_=Date()),
    bindparam("now", type_=UTCDateTime()),
)
