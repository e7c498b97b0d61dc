"""Lottery draws and till purchases under wrk, beside the same server's no-op GET /api/v1/ping.

    .venv/bin/python bench/draw_purchase.py [--members 3000] [--rounds 2] [--seconds 10]
        [--workers 4] [--threads 4] [--connections 32] [--show-statements]

Draws: POST /api/v1/lotteries/{id}/draws by many members with points, one lottery with a
scarce physical prize (stock 50), a points prize and a no-prize slot, each request with a fresh
Idempotency-Key as the mini-program sends. Purchases: POST /staff/v1/purchases by 8 clerks,
each request its own scan (prepared in SQL beforehand: a scan is what the till gets from POST
/staff/v1/scans) and its own order_no, also with a fresh Idempotency-Key. Rounds alternate
ping, draws, purchases; the ratio to ping is the median of the rounds'.

Before wrk, one request of each is sent through Flask's test client with every SQL statement
(and commit) counted by SQLAlchemy events: statements per request, idempotency key included.
After wrk, the invariants: prizes within stock and counted by the draws that won them, every
draw charged once, balance = sum of entries = lots remaining, every 201 purchase recorded once.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
from datetime import timedelta

from harness import (
    app_for,
    fresh_database,
    gunicorn_server,
    insert_members,
    print_table,
    seed_points,
    wrk,
)

SCARCE_STOCK = 50
CLERKS = 8
# wrk's Lua starts thread t at item (t * 7919) % n: with n = 2 * 7919 the two threads of a run
# each have 7919 distinct purchases before they could meet (a repeated order_no is a replay).
PURCHASES_PER_ROUND = 2 * 7919


def seed(app, members: int) -> dict:
    """Members with 1,000 points each (one entry and one lot), a lottery, a store and clerks."""
    from app import clock
    from app.auth import issue_member_token, issue_staff_token
    from app.extensions import db
    from app.models import Member, Staff, Store
    from app.models.lottery import Lottery, LotteryPrize

    with app.app_context():
        now = clock.now()
        ids = insert_members(members, points_balance=1000)
        # Members who have bought before hold a tier (a brand-new one's first purchase sets it).
        db.session.execute(Member.__table__.update().values(tier_code="normal"))
        seed_points(ids, 1000, now)
        lottery = Lottery(
            name="bench",
            cost_points=10,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
            daily_draw_limit=100,
        )
        store = Store(code="B001", name="bench store")
        db.session.add_all([lottery, store])
        db.session.flush()
        db.session.add_all(
            [
                LotteryPrize(lottery_id=lottery.id, name="无", kind="none", weight=6),
                LotteryPrize(
                    lottery_id=lottery.id,
                    name="耳机",
                    kind="physical",
                    weight=1,
                    stock_total=SCARCE_STOCK,
                ),
                LotteryPrize(
                    lottery_id=lottery.id,
                    name="5积分",
                    kind="points",
                    points=5,
                    weight=3,
                    stock_total=10**6,
                ),
            ]
        )
        clerks = [
            Staff(username=f"clerk{n}", password_hash="-", role="clerk", store_id=store.id)
            for n in range(CLERKS)
        ]
        db.session.add_all(clerks)
        db.session.commit()
        return {
            "member_ids": ids,
            "member_tokens": [issue_member_token(i)[0] for i in ids],
            "clerk_ids": [c.id for c in clerks],
            "clerk_tokens": [issue_staff_token(c.id)[0] for c in clerks],
            "store_id": store.id,
            "lottery_id": lottery.id,
        }


def prepare_scans(app, seeded: dict, count: int, tag: str) -> list[tuple[str, int]]:
    """`count` scans (what POST /staff/v1/scans records), one INSERT; (scan_id, clerk index)."""
    from sqlalchemy import text

    from app import clock
    from app.extensions import db

    now = clock.now()
    with app.app_context():
        rows = db.session.execute(
            text(
                """
                INSERT INTO scans (id, member_code, code_step, member_id, staff_id, store_id,
                                   expires_at, created_at)
                SELECT md5(:tag || n), lpad(n::text, 18, '0'), :step, m.ids[1 + n % :members],
                       c.ids[1 + n % :clerks], :store, :expires, :now
                FROM generate_series(0, :count - 1) n,
                     (SELECT CAST(:member_ids AS bigint[]) AS ids) m,
                     (SELECT CAST(:clerk_ids AS bigint[]) AS ids) c
                RETURNING id, staff_id
                """
            ),
            {
                "tag": tag,
                "step": abs(hash(tag)) % 10**9,
                "members": len(seeded["member_ids"]),
                "clerks": len(seeded["clerk_ids"]),
                "member_ids": seeded["member_ids"],
                "clerk_ids": seeded["clerk_ids"],
                "store": seeded["store_id"],
                # Bench scans live an hour (the till's are 10 minutes): the rounds take longer.
                "expires": now + timedelta(hours=1),
                "now": now,
                "count": count,
            },
        ).all()
        db.session.commit()
    index = {staff_id: n for n, staff_id in enumerate(seeded["clerk_ids"])}
    return [(scan_id, index[staff_id]) for scan_id, staff_id in rows]


def count_statements(app, seeded: dict, show: bool, samples: int = 12) -> dict[str, tuple]:
    """Keyed draws and keyed purchases through the test client, every statement counted (a
    draw's count depends on what it wins); {name: (fewest, most, commits)}."""
    from sqlalchemy import event

    from app.extensions import db

    scans = prepare_scans(app, seeded, samples + 1, "count")
    member = seeded["member_tokens"][-1]
    results = {}
    with app.app_context():
        engine = db.engine
        seen: list[str] = []
        commits: list[int] = []

        def on_statement(conn, cursor, statement, parameters, context, executemany):
            seen.append(" ".join(statement.split()))

        def on_commit(conn):
            commits.append(1)

        event.listen(engine, "before_cursor_execute", on_statement)
        event.listen(engine, "commit", on_commit)
        client = app.test_client()
        try:
            requests_ = {
                "draw": lambda n: client.post(
                    f"/api/v1/lotteries/{seeded['lottery_id']}/draws",
                    headers={
                        "Authorization": f"Bearer {member}",
                        "Idempotency-Key": secrets.token_hex(8),
                    },
                ),
                "purchase": lambda n: client.post(
                    "/staff/v1/purchases",
                    headers={
                        "Authorization": f"Bearer {seeded['clerk_tokens'][scans[n][1]]}",
                        "Idempotency-Key": secrets.token_hex(8),
                    },
                    json={"scan_id": scans[n][0], "order_no": f"count-{n}", "amount_fen": 12800},
                ),
            }
            for name, send in requests_.items():
                send(0)  # warm: caches (program settings, compiled statements)
                counts, most_commits = {}, 0
                for n in range(1, samples + 1):
                    seen.clear()
                    commits.clear()
                    response = send(n)
                    assert response.status_code == 201, (name, response.status_code)
                    outcome = response.json.get("outcome", "recorded")
                    most_commits = max(most_commits, len(commits))
                    if show and len(seen) not in counts:
                        print(f"-- {name} ({outcome}): {len(seen)} statements")
                        for statement in seen:
                            print("   ", statement[:150])
                    counts[len(seen)] = outcome
                results[name] = (min(counts), max(counts), most_commits)
        finally:
            event.remove(engine, "before_cursor_execute", on_statement)
            event.remove(engine, "commit", on_commit)
    return results


def check(app, seeded: dict, purchases_answered: int, in_flight: int) -> str:
    """The invariants over the whole database. wrk stops counting with requests still in flight
    (up to one per connection a run): those purchases are recorded but their 201 not counted."""
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        q = lambda sql: db.session.execute(text(sql)).all()  # noqa: E731
        over = q(
            """SELECT p.id, p.won, p.stock_total, count(d.id) FROM lottery_prizes p
               LEFT JOIN lottery_draws d ON d.prize_id = p.id
               GROUP BY p.id HAVING p.won > p.stock_total OR p.won <> count(d.id)"""
        )
        assert not over, f"prizes over stock or miscounted: {over}"
        scarce = q("SELECT won FROM lottery_prizes WHERE name = '耳机'")[0][0]
        uncharged = q(
            """SELECT count(*) FROM lottery_draws d LEFT JOIN point_entries e
               ON e.ref = 'lottery:' || d.id WHERE e.id IS NULL OR e.delta <> -d.points_spent"""
        )[0][0]
        assert uncharged == 0, f"{uncharged} draws not charged exactly"
        unbalanced = q(
            """SELECT m.id FROM members m
               LEFT JOIN (SELECT member_id, sum(delta) s FROM point_entries GROUP BY 1) e
                 ON e.member_id = m.id
               LEFT JOIN (SELECT member_id, sum(remaining) r FROM point_lots GROUP BY 1) l
                 ON l.member_id = m.id
               WHERE m.points_balance <> coalesce(e.s, 0)
                  OR greatest(m.points_balance, 0) <> coalesce(l.r, 0)"""
        )
        assert not unbalanced, f"{len(unbalanced)} members off: {unbalanced[:5]}"
        purchases, unpaid = q(
            """SELECT count(*), count(*) FILTER (WHERE e.id IS NULL AND p.points_awarded > 0)
               FROM purchases p LEFT JOIN point_entries e ON e.ref = 'purchase:' || p.id
               WHERE p.order_no LIKE 'w%'"""
        )[0]
        assert purchases_answered <= purchases <= purchases_answered + in_flight, (
            purchases,
            purchases_answered,
        )
        assert unpaid == 0, f"{unpaid} purchases without their points"
        draws = q("SELECT count(*) FROM lottery_draws")[0][0]
        members = len(seeded["member_ids"])
    return (
        f"invariants ok: scarce prize won {scarce}/{SCARCE_STOCK}, every prize's won = its draws;"
        f" {draws} draws each charged once; {members} members: balance = sum of entries = lots;"
        f" {purchases} purchases ({purchases_answered} answered 201 + those cut off by wrk's end),"
        " each with its points entry"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--show-statements", action="store_true")
    parser.add_argument("--count-only", action="store_true", help="count statements, no wrk")
    args = parser.parse_args()
    prefix = f"hyb-{secrets.token_hex(3)}:"
    rows, ratios = [], {"draw": [], "purchase": []}
    purchases_answered = 0
    with fresh_database() as db_url:
        app = app_for(db_url, prefix)
        seeded = seed(app, args.members)
        counts = count_statements(app, seeded, args.show_statements or args.count_only)
        if args.count_only:
            return
        member_auth = [{"Authorization": f"Bearer {t}"} for t in seeded["member_tokens"][:-1]]
        clerk_auth = [
            {"Authorization": f"Bearer {t}", "Content-Type": "application/json"}
            for t in seeded["clerk_tokens"]
        ]
        pings = [("GET", "/api/v1/ping", h, "") for h in member_auth]
        draw_path = f"/api/v1/lotteries/{seeded['lottery_id']}/draws"
        draws = [("POST", draw_path, h, "") for h in member_auth]
        with gunicorn_server(db_url, prefix, workers=args.workers, threads=args.threads) as base:
            wrk("warm-up", base, pings, 3, args.connections)
            for n in range(1, args.rounds + 1):
                scans = prepare_scans(app, seeded, PURCHASES_PER_ROUND, f"round{n}")
                purchases = [
                    (
                        "POST",
                        "/staff/v1/purchases",
                        clerk_auth[clerk],
                        json.dumps(
                            {"scan_id": scan_id, "order_no": f"w{n}-{i}", "amount_fen": 12800}
                        ),
                    )
                    for i, (scan_id, clerk) in enumerate(scans)
                ]
                ping = wrk(
                    f"GET /api/v1/ping, round {n}", base, pings, args.seconds, args.connections
                )
                draw = wrk(
                    f"POST /lotteries/{{id}}/draws, round {n}",
                    base,
                    draws,
                    args.seconds,
                    args.connections,
                    fresh_key=True,
                )
                buy = wrk(
                    f"POST /staff/v1/purchases, round {n}",
                    base,
                    purchases,
                    args.seconds,
                    args.connections,
                    fresh_key=True,
                )
                purchases_answered += buy.statuses.get(201, 0)
                rows += [ping, draw, buy]
                ratios["draw"].append(draw.throughput / ping.throughput)
                ratios["purchase"].append(buy.throughput / ping.throughput)
        verdict = check(app, seeded, purchases_answered, args.connections * args.rounds)
    print_table(
        rows,
        f"gunicorn {args.workers} workers x {args.threads} threads, wrk {args.connections} "
        f"connections, {args.seconds:g} s a run, {args.members} members, PostgreSQL + Redis",
    )
    for name in ("draw", "purchase"):
        fewest, most, commits = counts[name]
        statements = f"{fewest}" if fewest == most else f"{fewest}-{most}"
        print(
            f"{name}: ratio to ping per round "
            + ", ".join(f"{r:.2f}" for r in ratios[name])
            + f"; median {statistics.median(ratios[name]):.2f};"
            f" {statements} statements and {commits} commit a keyed request"
        )
    print(verdict)


if __name__ == "__main__":
    main()
