"""The points mall's flash exchange over HTTP: one item of small stock, every member at once.

    .venv/bin/python bench/mall_exchange.py [--members 2000] [--stock 500] [--limit 2]
        [--cost 100] [--taps 3] [--rounds 2] [--seconds 10] [--connections 32] [--threads 2]
        [--workers 4] [--server-threads 4] [--no-key] [--sandbox]

Members with points (`--members`, each granted enough for every round) and, for each round, a
goods item of `--stock` units and a lifetime limit of `--limit` per member, made through the admin
API (POST /staff/v1/admin/mall-items, as a marketer). gunicorn (gthread, production settings
unless `--sandbox`) serves the app; wrk drives POST /api/v1/mall/items/{id}/exchanges from a Lua
script that rotates through the members' tokens, each member `--taps` times in a row (so a
member's requests race each other for the limit), each request with a fresh Idempotency-Key as the
mini-program sends (`--no-key`: without). A thread of wrk stops at its first
`mall.out_of_stock`, and the run ends half a second after the admin API answers `stock_left` 0,
so the latencies are those of the sale. In each round the reference, GET /api/v1/ping with the
same members' tokens, runs `--seconds` with the same wrk settings right before the sale.

Figures: exchanges/s = exchanges recorded / (the last one's created_at - the first's), the
sell-out rate; p50/p99 of the sale's answers; the ratio to the round's ping req/s.

Checked after each round, against the HTTP API and the tables mall_exchanges, mall_items and
members only (so it holds whatever the stock take is made of): the admin API's GET of the item
answers `exchanged` = stock and `stock_left` = 0; exactly `--stock` units were exchanged (rows and
quantities of mall_exchanges, none cancelled); no member has more than the limit; for every
member, balance + points spent in exchanges = points granted; no more 201 answers than exchanges.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics

import requests
from harness import (
    PRODUCTION_ENV,
    app_for,
    fresh_database,
    gunicorn_server,
    insert_members,
    print_table,
    seed_points,
    wrk,
)


def seed(app, members: int, points: int) -> dict:
    """Members with `points` each (an adjustment entry and a lot behind the balance) and a
    marketer; their tokens."""
    from app import clock
    from app.auth import issue_member_token, issue_staff_token
    from app.extensions import db
    from app.models import Staff

    with app.app_context():
        ids = insert_members(members, points_balance=points)
        seed_points(ids, points, clock.now())
        marketer = Staff(username="bench-marketer", password_hash="-", role="marketer")
        db.session.add(marketer)
        db.session.commit()
        return {
            "member_tokens": [issue_member_token(i)[0] for i in ids],
            "marketer_token": issue_staff_token(marketer.id)[0],
        }


def new_item(base: str, marketer: dict, n: int, args) -> int:
    """A goods item of the round, made by the admin API; its id."""
    answer = requests.post(
        f"{base}/staff/v1/admin/mall-items",
        headers=marketer,
        json={
            "name": f"限量保温杯 {n}",
            "kind": "goods",
            "cost_points": args.cost,
            "stock_total": args.stock,
            "limit_per_member": args.limit,
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def item_as_admin(base: str, marketer: dict, item_id: int) -> dict:
    answer = requests.get(
        f"{base}/staff/v1/admin/mall-items/{item_id}", headers=marketer, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def check(app, item_id: int, stock: int, limit: int, granted: int, answered_201: int) -> dict:
    """What the database has of the item's exchanges (one statement, one snapshot) and the
    ledger-independent invariants over every member; raises on a broken one."""
    import sqlalchemy as sa

    from app.extensions import db

    with app.app_context():
        row = db.session.execute(
            sa.text(
                """
                WITH mine AS (
                    SELECT member_id, quantity, status, created_at FROM mall_exchanges
                    WHERE item_id = :item
                ), spent AS (
                    SELECT member_id, SUM(points_spent) AS points FROM mall_exchanges
                    WHERE status <> 'cancelled' GROUP BY member_id
                )
                SELECT
                    (SELECT COUNT(*) FROM mine),
                    (SELECT COALESCE(SUM(quantity), 0) FROM mine WHERE status <> 'cancelled'),
                    (SELECT COUNT(*) FROM mine WHERE status = 'cancelled'),
                    (SELECT COALESCE(MAX(q), 0) FROM (
                        SELECT SUM(quantity) AS q FROM mine WHERE status <> 'cancelled'
                        GROUP BY member_id) per_member),
                    (SELECT COUNT(*) FROM members m LEFT JOIN spent s ON s.member_id = m.id
                     WHERE m.points_balance + COALESCE(s.points, 0) <> :granted),
                    (SELECT COUNT(*) FROM members),
                    (SELECT EXTRACT(EPOCH FROM MAX(created_at) - MIN(created_at)) FROM mine),
                    (SELECT stock_total FROM mall_items WHERE id = :item)
                """
            ),
            {"item": item_id, "granted": granted},
        ).one()
        db.session.rollback()
    rows, units, cancelled, most, off, members, span, stock_total = row
    found = {
        "rows": rows,
        "units": units,
        "most_per_member": most,
        "members_off": off,
        "members": members,
        "rate": (rows - 1) / float(span) if rows > 1 and span else float("nan"),
    }
    problems = []
    if units != stock or rows != stock:
        problems.append(f"{rows} exchanges of {units} units, not the stock {stock}")
    if cancelled:
        problems.append(f"{cancelled} cancelled")
    if most > limit:
        problems.append(f"a member has {most} units, over the limit {limit}")
    if off:
        problems.append(f"{off} members whose balance + spent <> {granted}")
    if answered_201 > rows:
        problems.append(f"{answered_201} answers 201 for {rows} exchanges")
    if stock_total != stock:
        problems.append(f"mall_items.stock_total {stock_total}")
    found["problems"] = problems
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--stock", type=int, default=500)
    parser.add_argument("--limit", type=int, default=2)
    parser.add_argument("--cost", type=int, default=100)
    parser.add_argument("--taps", type=int, default=3, help="requests in a row per member")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10, help="the ping reference's run")
    parser.add_argument("--max-seconds", type=int, default=120, help="a sale's run at most")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--server-threads", type=int, default=4)
    parser.add_argument("--no-key", action="store_true", help="no Idempotency-Key")
    parser.add_argument("--sandbox", action="store_true", help="serve with SANDBOX=1")
    args = parser.parse_args()
    # Enough for every unit a member may take in every round, plus some never spent.
    granted = args.cost * args.limit * args.rounds + 50
    prefix = f"hyb-{secrets.token_hex(3)}:"
    env = {} if args.sandbox else PRODUCTION_ENV
    rows, rounds = [], []
    with fresh_database() as db_url:
        app = app_for(db_url, prefix)
        seeded = seed(app, args.members, granted)
        marketer = {"Authorization": f"Bearer {seeded['marketer_token']}"}
        auth = [{"Authorization": f"Bearer {t}"} for t in seeded["member_tokens"]]
        with gunicorn_server(
            db_url, prefix, workers=args.workers, threads=args.server_threads, **env
        ) as base:
            ping = [("GET", "/api/v1/ping", a, "") for a in auth]

            def run_wrk(name, requests_, **extra):
                return wrk(
                    name,
                    base,
                    requests_,
                    connections=args.connections,
                    threads=args.threads,
                    **extra,
                )

            run_wrk("warm-up", ping, seconds=3)
            body = json.dumps({"quantity": 1})
            for n in range(1, args.rounds + 1):
                item_id = new_item(base, marketer, n, args)
                reference = run_wrk(
                    f"GET /api/v1/ping (no-op), round {n}", ping, seconds=args.seconds
                )
                path = f"/api/v1/mall/items/{item_id}/exchanges"
                taps = [
                    ("POST", path, {**a, "Content-Type": "application/json"}, body)
                    for a in auth
                    for _ in range(args.taps)
                ]
                sale = run_wrk(
                    f"POST /mall/items/{{id}}/exchanges, round {n}",
                    taps,
                    seconds=args.max_seconds,
                    fresh_key=not args.no_key,
                    stop_on="mall.out_of_stock",
                    until=lambda i=item_id: item_as_admin(base, marketer, i)["stock_left"] == 0,
                )
                admin = item_as_admin(base, marketer, item_id)
                found = check(
                    app, item_id, args.stock, args.limit, granted, sale.statuses.get(201, 0)
                )
                if admin["exchanged"] != args.stock or admin["stock_left"] != 0:
                    found["problems"].append(
                        f"admin API: exchanged {admin['exchanged']}, stock_left "
                        f"{admin['stock_left']}"
                    )
                rows += [reference, sale]
                rounds.append((reference, sale, found, admin))
    mode = "SANDBOX=1" if args.sandbox else "production (no SANDBOX)"
    key = "without Idempotency-Key" if args.no_key else "a fresh Idempotency-Key each"
    print_table(
        rows,
        f"gunicorn {args.workers} workers x {args.server_threads} threads, {mode}; wrk "
        f"{args.threads} threads x {args.connections} connections; {args.members} members x "
        f"{args.taps} taps in a row, {key}; goods of stock {args.stock}, limit {args.limit}, "
        f"{args.cost} points; ping {args.seconds} s",
    )
    ratios = []
    for n, (reference, sale, found, admin) in enumerate(rounds, 1):
        ratio = found["rate"] / reference.throughput if reference.throughput else float("nan")
        ratios.append(ratio)
        codes = ", ".join(f"{k} {v}" for k, v in sorted(sale.codes.items())) or "none"
        print(
            f"round {n}: {found['rate']:,.0f} exchanges/s (sell-out rate), p50 {sale.p50:.1f} ms, "
            f"p99 {sale.p99:.1f} ms; ping {reference.throughput:,.0f} req/s, p50 "
            f"{reference.p50:.1f} ms, p99 {reference.p99:.1f} ms; ratio {ratio:.2f}"
        )
        print(f"  answers: {sale.count} in {sale.elapsed:.1f} s; refusals: {codes}")
        verdict = "ok" if not found["problems"] else "FAILED: " + "; ".join(found["problems"])
        print(
            f"  check {verdict}: {found['rows']} exchanges = {found['units']} units of stock "
            f"{args.stock}; admin API exchanged {admin['exchanged']}, stock_left "
            f"{admin['stock_left']}; most per member {found['most_per_member']} (limit "
            f"{args.limit}); balance + spent = {granted} for "
            f"{found['members'] - found['members_off']}/{found['members']} members"
        )
    print(f"exchange / ping ratio, median of {len(ratios)} rounds: {statistics.median(ratios):.2f}")
    if any(found["problems"] for _, _, found, _ in rounds):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
