"""POST /api/v1/checkins and GET /api/v1/me under gunicorn on PostgreSQL, driven by wrk, beside
the same server's no-op authenticated endpoint (GET /api/v1/ping) in the same run.

    .venv/bin/python bench/checkin.py [--sandbox both|0|1] [--rounds 3] [--seconds 8]
                                      [--workers 4] [--threads 4] [--connections 32]
                                      [--per-round 8000]

Each round measures ping, check-in and GET /me in turn (alternating, so that a swing of the
shared machine hits all three); the ratios are the medians of the rounds'. Every check-in is by
a member who has not checked in yet (a second one the same business day is 409
`checkin.already_done`): each round's check-ins cycle through a slice of members of their own,
`--per-round` long, and a 409 in the table means the slice was too short for the rate. GET /me
runs over the members who just checked in (a lot, a check-in row, a streak to read).

`--sandbox both` (the default) runs the rounds twice on the same database, first with SANDBOX=1
(every request that asks the time reads the test clock's offset from Redis), then as production
runs, without it.
"""

from __future__ import annotations

import argparse
import secrets
import statistics

from harness import (
    PRODUCTION_ENV,
    app_for,
    fresh_database,
    gunicorn_server,
    insert_members,
    print_table,
    wrk,
)


def seed_members(app, count: int) -> list[str]:
    """Insert members directly and return a member token for each."""
    from app.auth import issue_member_token
    from app.extensions import db

    with app.app_context():
        ids = insert_members(count)
        db.session.commit()
        return [issue_member_token(i)[0] for i in ids]


def run_rounds(base: str, tokens: list[str], args) -> tuple[list, dict]:
    """The rounds against one server; each round uses its own slice of `tokens`."""
    rows, ratios = [], {"check-in": [], "GET /me": []}

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def run(name: str, requests_: list) -> object:
        # One wrk thread: it walks the list in order from the first item, so no two requests of
        # a run share a member until the list wraps (several threads start at spread offsets).
        return wrk(name, base, requests_, args.seconds, args.connections, threads=1)

    run("warm-up", [("GET", "/api/v1/ping", auth(t), "") for t in tokens[:2000]])
    for n in range(args.rounds):
        mine = tokens[n * args.per_round : (n + 1) * args.per_round]
        ping = run(
            f"GET /api/v1/ping (no-op), round {n + 1}",
            [("GET", "/api/v1/ping", auth(t), "") for t in mine[:5000]],
        )
        checkins = run(
            f"POST /api/v1/checkins, round {n + 1}",
            [("POST", "/api/v1/checkins", auth(t), "") for t in mine],
        )
        checked_in = mine[: max(1, min(checkins.count, len(mine)))]
        me = run(
            f"GET /api/v1/me, round {n + 1}",
            [("GET", "/api/v1/me", auth(t), "") for t in checked_in[:5000]],
        )
        rows += [ping, checkins, me]
        ratios["check-in"].append(checkins.throughput / ping.throughput)
        ratios["GET /me"].append(me.throughput / ping.throughput)
        if checkins.statuses.get(409):
            print(f"  round {n + 1}: {checkins.statuses[409]} check-ins 409 (raise --per-round)")
    return rows, ratios


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", choices=["both", "0", "1"], default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--per-round", type=int, default=8000, help="members per round")
    args = parser.parse_args()
    modes = ["1", "0"] if args.sandbox == "both" else [args.sandbox]
    prefix = f"hyb-{secrets.token_hex(3)}:"
    summary = []
    with fresh_database() as db_url:
        tokens = seed_members(app_for(db_url, prefix), args.per_round * args.rounds * len(modes))
        for m, mode in enumerate(modes):
            extra = {} if mode == "1" else PRODUCTION_ENV
            mine = tokens[m * args.per_round * args.rounds : (m + 1) * args.per_round * args.rounds]
            with gunicorn_server(
                db_url, prefix, workers=args.workers, threads=args.threads, **extra
            ) as base:
                rows, ratios = run_rounds(base, mine, args)
            label = "SANDBOX=1" if mode == "1" else "production (no SANDBOX)"
            print_table(
                rows,
                f"{label}: gunicorn {args.workers} workers x {args.threads} threads, wrk "
                f"{args.connections} connections, {args.seconds:g} s a run, PostgreSQL",
            )
            for name, values in ratios.items():
                line = (
                    f"{label}: {name} / ping per round: "
                    + ", ".join(f"{r:.2f}" for r in values)
                    + f"; median {statistics.median(values):.2f}"
                )
                print(line)
                summary.append(line)
            print()
    print("\n".join(summary))


if __name__ == "__main__":
    main()
