"""The nightly points expiry (jobs.points.points_expiry_job: ledger.points_expiry.expire_due_lots,
one rules.EXPIRE_RANGE statement and one commit per range of member ids) beside two plain
statements on identical copies of the same database, in the same command.

    .venv/bin/python bench/points_expiry.py [--members 100000] [--lots 4] [--due-lots 2]
                                            [--due-percent 30] [--width 5000] [--rounds 2]

Seeded set-based in SQL: `--members` members with `--lots` lots each (one per expiry date, as
the ledger keeps them) and the entries behind them (an earning per lot, a spend taken from the
soonest lot, balance_after running). `--due-percent` of the members have their `--due-lots`
oldest lots past their last day and not empty (due tonight); the others' past lots were emptied by
an earlier night (remaining 0, with that night's expiry entry), so they are not due. The
database is then vacuumed and copied three times (CREATE DATABASE ... TEMPLATE), and each copy,
prewarmed and checkpointed first, is timed with one of:

- the job, as the scheduler runs it (in-process, job timeouts), and again right after (nothing
  due: what a second run or a resume costs);
- (a) the plain `UPDATE point_lots SET remaining = 0 WHERE expires_on < :day AND remaining > 0`:
  the lots alone, no entry, no balance;
- (b) the floor: the three writes the expiry must make, set-based in one statement without locks,
  ranges or guards, in member id order: the due lots emptied, one entry per member for their sum
  (as the job writes them, so both copies end the same), the balances moved.

Checked afterwards on the job's copy and on the floor's: every member's balance equals the sum of
their entries, the sum of their open lots and their last entry's balance_after; no lot is due
any more; both expired the same members and points, which are what was due.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from datetime import datetime

import sqlalchemy as sa
from harness import app_for, create_database, drop_database, fresh_database, new_database_name

SEED_MEMBERS = """
INSERT INTO members (member_no, openid, referral_code, nickname, avatar_url, gender, tier_code,
                     points_balance, joined_at, updated_at)
SELECT '9' || lpad(g::text, 11, '0'), 'bench-' || g, 'B' || lpad(g::text, 7, '0'), '', '', 0, '',
       0, :now, :now
FROM generate_series(1, :members) g
"""

# Lot k of a member: the first :due_lots (k < :due_lots) are past their last day (a due member's:
# the day before tonight, then a month earlier each, still holding points; the others': a month
# earlier, emptied by that night), the rest expire in the coming months. Every member has
# spent (id % 50) points from the soonest lot that held points.
_LOTS = """
WITH m AS (
    SELECT id, (id % 100) < :due_percent AS due, id % 50 AS spent FROM members
), lots AS (
    SELECT m.id AS member_id, k, m.due, m.spent,
           100 + (m.id * 7 + k * 13) % 400 AS earned,
           CAST(CASE WHEN k < :due_lots
                     THEN CAST(:day AS date) - 1 - 30 * k - CASE WHEN m.due THEN 0 ELSE 30 END
                     ELSE CAST(:day AS date) + 30 * (k - :due_lots + 1) END AS date) AS expires_on,
           k < :due_lots AS past,
           k = CASE WHEN m.due THEN 0 ELSE :due_lots END AS spent_from
    FROM m, generate_series(0, :lots - 1) k
)
"""
SEED_LOTS = (
    _LOTS
    + """
INSERT INTO point_lots (member_id, earned, remaining, expires_on, created_at)
SELECT member_id, earned,
       CASE WHEN past AND NOT due THEN 0
            WHEN spent_from THEN earned - spent ELSE earned END,
       expires_on, :now
FROM lots
"""
)
# Per member, in order: an earning per lot, the earlier nights' expiries, the spend.
SEED_ENTRIES = (
    _LOTS
    + """
, moves AS (
    SELECT member_id, k AS seq, earned AS delta, 'adjustment' AS reason,
           'seed:' || member_id || ':' || k AS ref, expires_on
    FROM lots
    UNION ALL
    SELECT member_id, 100 + k, -earned, 'expiry',
           'expiry:' || member_id || ':' || CAST(expires_on + 1 AS text), NULL
    FROM lots WHERE past AND NOT due
    UNION ALL
    SELECT member_id, 1000, -spent, 'mall', 'seed-spend:' || member_id, NULL
    FROM lots WHERE spent_from AND spent > 0
)
INSERT INTO point_entries (member_id, delta, reason, ref, balance_after, expires_on, created_at,
                           note)
SELECT member_id, delta, reason, ref,
       SUM(delta) OVER (PARTITION BY member_id ORDER BY seq), expires_on, :now, ''
FROM moves ORDER BY member_id, seq
"""
)
SEED_BALANCES = """
UPDATE members SET points_balance = s.total
FROM (SELECT member_id, SUM(delta) AS total FROM point_entries GROUP BY member_id) s
WHERE members.id = s.member_id
"""

DUE = """
SELECT COUNT(DISTINCT member_id), COUNT(*), COALESCE(SUM(remaining), 0) FROM point_lots
WHERE expires_on < :day AND remaining > 0
"""

PLAIN = "UPDATE point_lots SET remaining = 0 WHERE expires_on < :day AND remaining > 0"

# In member id order, as the job walks them: unordered (hash order) it took 1.5x as long, every
# write landing on another page of members, point_lots and their indexes.
FLOOR = """
WITH due AS MATERIALIZED (
    SELECT id, member_id, remaining FROM point_lots WHERE expires_on < :day AND remaining > 0
    ORDER BY member_id, id
), emptied AS (
    UPDATE point_lots SET remaining = 0 FROM due WHERE point_lots.id = due.id
), per_member AS (
    SELECT member_id, SUM(remaining) AS points FROM due GROUP BY member_id ORDER BY member_id
), moved AS (
    UPDATE members SET points_balance = members.points_balance - p.points, updated_at = :now
    FROM per_member p WHERE members.id = p.member_id
    RETURNING members.id, members.points_balance, p.points
)
INSERT INTO point_entries (member_id, delta, reason, ref, balance_after, created_at, note)
SELECT id, -points, 'expiry', 'expiry:' || id || ':' || :stamp, points_balance, :now, ''
FROM moved
"""

# Every member: balance = sum of entries = sum of open lots = the last entry's balance_after.
INVARIANTS = """
WITH e AS (
    SELECT member_id, SUM(delta) AS total, MAX(id) AS last_id FROM point_entries
    GROUP BY member_id
), l AS (
    SELECT member_id, SUM(remaining) AS open FROM point_lots WHERE remaining > 0
    GROUP BY member_id
)
SELECT
    COUNT(*),
    COUNT(*) FILTER (WHERE m.points_balance <> COALESCE(e.total, 0)),
    COUNT(*) FILTER (WHERE m.points_balance <> COALESCE(l.open, 0)),
    COUNT(*) FILTER (WHERE m.points_balance <> last.balance_after),
    (SELECT COUNT(*) FROM point_lots WHERE expires_on < :day AND remaining > 0),
    (SELECT COUNT(*) FROM point_entries WHERE reason = 'expiry' AND ref LIKE '%:' || :stamp),
    (SELECT COALESCE(-SUM(delta), 0) FROM point_entries
     WHERE reason = 'expiry' AND ref LIKE '%:' || :stamp)
FROM members m
LEFT JOIN e ON e.member_id = m.id
LEFT JOIN l ON l.member_id = m.id
LEFT JOIN point_entries last ON last.id = e.last_id
"""


def engine_for(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.NullPool)


def seed(url: str, args, day, now: datetime) -> tuple[int, int, int]:
    """The members, lots and entries; then vacuumed and analysed. What is due: (members, lots,
    points)."""
    params = {
        "members": args.members,
        "lots": args.lots,
        "due_lots": args.due_lots,
        "due_percent": args.due_percent,
        "day": day,
        "now": now,
    }
    engine = engine_for(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        for statement in (SEED_MEMBERS, SEED_LOTS, SEED_ENTRIES, SEED_BALANCES):
            conn.execute(sa.text(statement), params)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
        due = tuple(conn.execute(sa.text(DUE), {"day": day}).one())
        lots = conn.execute(sa.text("SELECT COUNT(*) FROM point_lots")).scalar_one()
        entries = conn.execute(sa.text("SELECT COUNT(*) FROM point_entries")).scalar_one()
    engine.dispose()
    print(
        f"seeded {args.members:,} members, {lots:,} lots, {entries:,} entries in "
        f"{time.perf_counter() - started:.1f} s; due on {day}: {due[0]:,} members, {due[1]:,} "
        f"lots, {due[2]:,} points"
    )
    return due


def prepare(url: str) -> None:
    """The same start for every timing: the tables read into the caches, then a checkpoint (no
    dirty pages of the copy or of the run before to write during the timing)."""
    engine = engine_for(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        try:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
            for relation in (
                "members",
                "point_lots",
                "point_entries",
                "pk_members",
                "pk_point_lots",
                "pk_point_entries",
                "ix_point_lots_expires_on",
                "uq_point_lots_member_id_expires_on",
                "uq_point_entries_ref",
                "ix_point_entries_member_id_id",
                "ix_point_entries_member_reason_created",
            ):
                conn.execute(sa.text("SELECT pg_prewarm(:r)"), {"r": relation})
        except sa.exc.DBAPIError:  # no pg_prewarm on this server: read the tables instead
            for table in ("members", "point_lots", "point_entries"):
                conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}"))
        conn.execute(sa.text("CHECKPOINT"))
    engine.dispose()


def timed_statement(url: str, statement: str, params: dict) -> tuple[float, int]:
    """One statement in one transaction, committed; seconds and rows (the parameters it does
    not name are left out)."""
    params = {k: v for k, v in params.items() if f":{k}" in statement}
    prepare(url)
    engine = engine_for(url)
    with engine.connect() as conn:
        started = time.perf_counter()
        rows = conn.execute(sa.text(statement), params).rowcount
        conn.commit()
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, rows


def timed_job(url: str, now: datetime, day, width: int) -> tuple[float, dict, float, dict]:
    """The nightly job on its copy, as the scheduler calls it, then once more (nothing due)."""
    from app import clock
    from app.db_timeouts import job_timeouts
    from app.extensions import db
    from app.services.ledger import points_expiry
    from jobs.points import points_expiry_job

    app = app_for(url, f"hyb-{secrets.token_hex(3)}:", job_process=False)
    prepare(url)
    with app.app_context(), job_timeouts(app):  # as the scheduler runs a job
        assert clock.business_date(now) == day, (now, day)
        started = time.perf_counter()
        if width == points_expiry.RANGE:
            result = points_expiry_job(now)
        else:  # the job with another range width
            result = points_expiry.expire_due_lots(db.session, day, now, width)
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = points_expiry_job(now)
        second = time.perf_counter() - started
        db.session.remove()
    with app.app_context():
        db.engine.dispose()
    return first, result, second, again


def check(url: str, day, expected: tuple[int, int, int]) -> str:
    engine = engine_for(url)
    with engine.connect() as conn:
        members, bad_entries, bad_lots, bad_last, still_due, expiries, points = conn.execute(
            sa.text(INVARIANTS), {"day": day, "stamp": day.isoformat()}
        ).one()
    engine.dispose()
    problems = []
    if bad_entries:
        problems.append(f"{bad_entries} balances <> sum of entries")
    if bad_lots:
        problems.append(f"{bad_lots} balances <> sum of open lots")
    if bad_last:
        problems.append(f"{bad_last} balances <> last balance_after")
    if still_due:
        problems.append(f"{still_due} lots still due")
    if (expiries, points) != (expected[0], expected[2]):
        problems.append(f"{expiries} members / {points} points expired, due {expected}")
    verdict = "ok" if not problems else "FAILED: " + "; ".join(problems)
    return (
        f"{verdict}: {members:,} members, balance = entries = open lots = last balance_after; "
        f"{expiries:,} expiry entries tonight for {points:,} points"
    )


def one_round(source: str, order: list[str], now: datetime, day, width: int, due) -> dict:
    """Three fresh copies of `source`, each timed with one way, in `order`; then checked."""
    names = [new_database_name() for _ in order]
    try:
        urls = {
            label: create_database(name, template=source)
            for label, name in zip(order, names, strict=True)
        }
        params = {"day": day, "now": now, "stamp": day.isoformat()}
        found: dict = {}
        for label in order:
            if label == "job":
                found["job"], found["result"], found["again"], again = timed_job(
                    urls["job"], now, day, width
                )
                assert again["members"] == 0, again
            elif label == "plain":
                found["plain"], found["plain_rows"] = timed_statement(urls["plain"], PLAIN, params)
            else:
                found["floor"], found["floor_rows"] = timed_statement(urls["floor"], FLOOR, params)
        found["checks"] = [check(urls["job"], day, due), check(urls["floor"], day, due)]
        return found
    finally:
        for name in names:
            drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--lots", type=int, default=4, help="lots per member")
    parser.add_argument("--due-lots", type=int, default=2, help="past lots per member")
    parser.add_argument("--due-percent", type=int, default=30, help="members with lots due")
    parser.add_argument("--width", type=int, default=None, help="member ids per range")
    parser.add_argument("--rounds", type=int, default=2, help="fresh copies timed, order rotated")
    args = parser.parse_args()
    assert 0 <= args.due_lots < args.lots
    from app import clock
    from app.services.ledger import points_expiry

    width = args.width or points_expiry.RANGE
    now = clock.now()
    day = clock.business_date(now)
    rounds = []
    with fresh_database() as source_url:
        due = seed(source_url, args, day, now)
        source = sa.engine.make_url(source_url).database
        order = ["job", "plain", "floor"]
        for _ in range(args.rounds):
            rounds.append(one_round(source, order, now, day, width, due))
            order = order[1:] + order[:1]  # the next round starts with another
    ranges = -(-args.members // width)
    print(
        f"points expiry, {args.members:,} members x {args.lots} lots, {args.due_percent}% with "
        f"{args.due_lots} lots due ({due[1]:,} lots, {due[2]:,} points); each way on a fresh copy "
        f"of the database, prewarmed and checkpointed; {args.rounds} rounds, order rotated"
    )
    failed = False
    for n, r in enumerate(rounds, 1):
        print(f"round {n}:")
        for label, seconds, what in (
            (f"job (points_expiry_job, {ranges} ranges of {width:,})", r["job"],
             f"{r['result']['members']:,} members, {r['result']['points']:,} points"),
            ("job again (nothing due)", r["again"], "0 members"),
            ("(a) plain UPDATE of the lots", r["plain"], f"{r['plain_rows']:,} lots"),
            ("(b) floor: lots, entries, balances", r["floor"], f"{r['floor_rows']:,} entries"),
        ):  # fmt: skip
            print(f"  {label:<46} {seconds:7.2f} s   {what}")
        print(
            f"  job / plain UPDATE {r['job'] / r['plain']:.2f}; job / floor "
            f"{r['job'] / r['floor']:.2f}; floor / plain UPDATE {r['floor'] / r['plain']:.2f}"
        )
        print(f"  job's copy: {r['checks'][0]}")
        print(f"  floor's copy: {r['checks'][1]}")
        failed |= "FAILED" in "".join(r["checks"]) or r["result"]["members"] != due[0]
    med = statistics.median
    print(
        f"median of {len(rounds)} rounds: job {med(r['job'] for r in rounds):.2f} s, plain "
        f"UPDATE {med(r['plain'] for r in rounds):.2f} s, floor "
        f"{med(r['floor'] for r in rounds):.2f} s; job / plain UPDATE "
        f"{med(r['job'] / r['plain'] for r in rounds):.2f}, job / floor "
        f"{med(r['job'] / r['floor'] for r in rounds):.2f}"
    )
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
