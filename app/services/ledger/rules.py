"""The ledger's rules as SQL, written once: earning, taking (spend and debit) and expiring.

`ledger.earn`, `ledger.earn_many` (the jobs that grant points in bulk) and check-in's
one-statement fast path all run `earn_ctes`; `ledger.spend` and
`ledger.debit` run `TAKE`; `ledger.expire_member` runs `EXPIRE_DUE` and the nightly expiry
`EXPIRE_RANGE`, both built on `expire_ctes`. Nothing else writes points_balance, point_entries
or point_lots.

The earn rule: an entry with a unique ref (a ref used before writes nothing and moves nothing);
the balance moves by the points, so a negative balance is repaid first; the entry records the
balance after; what is left once the debt is repaid, min(points, balance after), goes into the
member's lot of the entry's expiry date: one lot per member and expiry date (unique), so
earnings that expire together add to one lot (earned and remaining both grow).

The take rule (TAKE): under the member's lock, an entry of -points with a unique ref, the
balance moves down, and the points come out of the member's open lots soonest-expiring first
(a running sum over the lots in (expires_on, id) order: only the lots needed are updated, and
so locked). A spend writes nothing unless the balance covers it; a debit (a refund) may take the
balance below zero: what the lots cannot give is debt. A debit that reverses an earning
(`reverses_entry_id`) takes first, from that earning's lot, what the earning still has unspent:

    unspent(E) = max(0, min(part(E) - reversed(E),
                            lot.remaining - sum over newer earnings N of the same lot of
                                            max(0, part(N) - reversed(N))))

where part(X) = max(0, min(delta, balance_after)) is what earning X put into its lot (after
repaying debt), reversed(X) the points of the debits that named X before, and "newer" means a
later entry id with the same member and expiry date. That is: within a lot, spends and expiry
take the oldest earnings first, so what a lot still holds belongs to its newest earnings. The
rest of the debit comes out of the lots soonest-expiring first, as a spend.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Date, String, bindparam, text
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
    points_balance: the new balance) and `<name>_lot` (the lot of the expiry date, made or added
    to). Every step reads the RETURNING of the entry, so nothing moves unless the entry is new.
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
        INSERT INTO point_lots (member_id, earned, remaining, expires_on, created_at)
        SELECT member_id, LEAST(delta, balance_after), LEAST(delta, balance_after),
               expires_on, created_at
        FROM {name}_entry WHERE balance_after > 0
        ON CONFLICT (member_id, expires_on) DO UPDATE
        SET earned = point_lots.earned + EXCLUDED.earned,
            remaining = point_lots.remaining + EXCLUDED.remaining
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


# Many members' earnings of the same points, one statement: lock the members FOR NO KEY UPDATE in
# id order (as ledger.lock_member, so the balances are the latest), then the rule, each member
# with their own ref (refs[i] for ids[i]). Returns the members credited now (a member whose ref
# was used before moves nothing and is not returned).
EARN_MANY = text(
    f"""
    WITH member AS MATERIALIZED (
        SELECT m.id, m.points_balance, w.ref
        FROM members m
        JOIN unnest(CAST(:ids AS bigint[]), CAST(:refs AS varchar[])) AS w(member_id, ref)
          ON m.id = w.member_id
        ORDER BY m.id
        FOR NO KEY UPDATE OF m
    ), credit AS (
        SELECT id AS member_id, CAST(:points AS bigint) AS points, points_balance AS balance,
               CAST(:reason AS varchar) AS reason, ref, :expires_on AS expires_on,
               :now AS created_at, CAST(NULL AS bigint) AS staff_id,
               CAST(NULL AS bigint) AS store_id, CAST('' AS varchar) AS note
        FROM member
    ), {earn_ctes("credit")}
    SELECT member_id FROM earn_entry ORDER BY member_id
    """
).bindparams(
    bindparam("now", type_=UTCDateTime()),
    bindparam("expires_on", type_=Date()),
)


# What an earning X put into its lot, less what debits naming it took back (the take rule).
def _unreversed(x: str) -> str:
    return f"""GREATEST(0, GREATEST(0, LEAST({x}.delta, {x}.balance_after))
        - COALESCE((SELECT -SUM(r.delta) FROM point_entries r
                    WHERE r.reverses_entry_id = {x}.id), 0))"""


# The take rule (see the module's docstring), for one member whose row the transaction locked
# in an earlier statement (so this statement's snapshot sees their latest balance and lots).
# Returns one row: known (the member exists), enough (a spend is covered, or it is a debit),
# entry_id and balance_after (NULL when nothing was written: not enough, or the ref was used).
TAKE = text(
    f"""
    WITH member AS MATERIALIZED (
        SELECT id, points_balance, (:overdraw OR points_balance >= :points) AS enough
        FROM members WHERE id = :mid
    ), entry AS (
        INSERT INTO point_entries (member_id, delta, reason, ref, balance_after, created_at,
                                   staff_id, store_id, note, reverses_entry_id)
        SELECT id, -CAST(:points AS bigint), :reason, :ref, points_balance - :points, :now,
               :staff_id, :store_id, :note,
               (SELECT e.id FROM point_entries e WHERE e.id = :reverses AND e.member_id = :mid)
        FROM member WHERE enough
        ON CONFLICT (ref) DO NOTHING
        RETURNING id, balance_after
    ), moved AS (
        UPDATE members SET points_balance = members.points_balance - :points
        FROM entry WHERE members.id = :mid
    ), named AS MATERIALIZED (
        SELECT l.id AS lot_id,
               LEAST(CAST(:points AS bigint), GREATEST(0, LEAST({_unreversed("e")},
                     l.remaining - COALESCE((
                         SELECT SUM({_unreversed("n")}) FROM point_entries n
                         WHERE n.member_id = :mid AND n.expires_on = e.expires_on
                           AND n.id > e.id AND n.delta > 0), 0)))) AS first
        FROM point_entries e
        JOIN point_lots l ON l.member_id = e.member_id AND l.expires_on = e.expires_on
        WHERE e.id = :reverses AND e.member_id = :mid AND e.delta > 0
    ), open AS (
        SELECT l.id, l.expires_on,
               l.remaining - COALESCE(named.first, 0) AS rest,
               COALESCE(named.first, 0) AS first
        FROM point_lots l LEFT JOIN named ON named.lot_id = l.id
        WHERE l.member_id = :mid AND l.remaining > 0
    ), ordered AS (
        SELECT id, rest, first,
               SUM(rest) OVER (ORDER BY expires_on, id) - rest AS before
        FROM open
    ), plan AS (
        SELECT id, first + LEAST(rest, GREATEST(0,
                   :points - COALESCE((SELECT first FROM named), 0) - before)) AS part
        FROM ordered
    ), taken AS (
        UPDATE point_lots SET remaining = point_lots.remaining - plan.part
        FROM plan, entry WHERE point_lots.id = plan.id AND plan.part > 0
    )
    SELECT member.id IS NOT NULL, COALESCE(member.enough, false), entry.id, entry.balance_after
    FROM (SELECT 1) one LEFT JOIN member ON true LEFT JOIN entry ON true
    """
).bindparams(
    bindparam("now", type_=UTCDateTime()),
    bindparam("points", type_=BigInteger()),
    bindparam("mid", type_=BigInteger()),
    bindparam("reverses", type_=BigInteger()),
    bindparam("staff_id", type_=BigInteger()),
    bindparam("store_id", type_=BigInteger()),
    bindparam("overdraw", type_=Boolean()),
    bindparam("reason", type_=String()),
    bindparam("ref", type_=String()),
    bindparam("note", type_=String()),
)


def expire_ctes(locked: str) -> str:
    """The expire rule as CTEs over `locked`, a CTE (id, points_balance) of members whose rows
    this statement or an earlier one of its transaction locked FOR NO KEY UPDATE (so the
    balances are the latest): every lot of theirs whose last day was before :today is emptied
    (the lots are locked FOR UPDATE after the members: their latest versions count), and each
    member gets one entry `expiry:<member>:<today>` for the sum. A member whose entry for today
    exists already (expired earlier today) is left alone: nothing moves without its entry.
    Defines `expired` (member_id, delta)."""
    return f"""
    due AS MATERIALIZED (
        SELECT id, member_id, remaining FROM point_lots
        WHERE member_id = ANY(ARRAY(SELECT id FROM {locked}))
          AND remaining > 0 AND expires_on < :today
        FOR UPDATE
    ), per_member AS (
        SELECT member_id, CAST(SUM(remaining) AS bigint) AS points FROM due GROUP BY member_id
    ), expired AS (
        INSERT INTO point_entries (member_id, delta, reason, ref, balance_after, created_at, note)
        SELECT p.member_id, -p.points, 'expiry',
               'expiry:' || p.member_id || ':' || CAST(:stamp AS text),
               m.points_balance - p.points, :now, ''
        FROM per_member p JOIN {locked} m ON m.id = p.member_id
        ON CONFLICT (ref) DO NOTHING
        RETURNING member_id, delta
    ), emptied AS (
        UPDATE point_lots SET remaining = 0
        FROM due JOIN expired ON expired.member_id = due.member_id
        WHERE point_lots.id = due.id
    ), moved AS (
        UPDATE members SET points_balance = members.points_balance + expired.delta,
                           updated_at = :now
        FROM expired WHERE members.id = expired.member_id
    )"""


_EXPIRE_PARAMS = (
    bindparam("today", type_=Date()),
    bindparam("now", type_=UTCDateTime()),
)

# The expire rule for members the transaction has already locked (ledger.expire_members).
# Returns (member_id, points expired) per member.
EXPIRE_DUE = text(
    f"""
    WITH locked AS MATERIALIZED (
        SELECT id, points_balance FROM members WHERE id = ANY(:ids)
    ), {expire_ctes("locked")}
    SELECT member_id, -delta FROM expired ORDER BY member_id
    """
).bindparams(bindparam("ids", type_=postgresql.ARRAY(BigInteger())), *_EXPIRE_PARAMS)

# The nightly expiry of one range of member ids [:lo, :hi], one statement: it locks the range's
# members that have a lot due FOR NO KEY UPDATE in id order (as ledger.lock_member: the same
# lock and order as a spend, then their lots), then the expire rule. Returns one row: members
# expired and points expired.
EXPIRE_RANGE = text(
    f"""
    WITH locked AS MATERIALIZED (
        SELECT id, points_balance FROM members
        WHERE id IN (SELECT member_id FROM point_lots
                     WHERE member_id BETWEEN :lo AND :hi
                       AND remaining > 0 AND expires_on < :today)
        ORDER BY id
        FOR NO KEY UPDATE
    ), {expire_ctes("locked")}
    SELECT COUNT(*), CAST(COALESCE(-SUM(delta), 0) AS bigint) FROM expired
    """
).bindparams(
    bindparam("lo", type_=BigInteger()), bindparam("hi", type_=BigInteger()), *_EXPIRE_PARAMS
)
