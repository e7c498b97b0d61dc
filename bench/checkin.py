"""POST /api/v1/checkins throughput and latency under gunicorn on PostgreSQL, beside the same
server's no-op authenticated endpoint (GET /api/v1/ping) in the same run.

    .venv/bin/python bench/checkin.py [--members 4000] [--rounds 3] [--workers 4] [--threads 4]
                                      [--clients 32]

The two endpoints are measured in alternating rounds (ping, check-ins, ping, check-ins, ...),
every check-in by a member who has not checked in yet, and the ratio is the median of the
rounds': on a 2-core machine one round's no-op figure swings by half from run to run, with
how the 32 client connections happen to spread over the workers.
"""

from __future__ import annotations

import argparse
import secrets
import statistics

from harness import app_for, drive, fresh_database, gunicorn_server, insert_members, print_table


def seed_members(app, count: int) -> list[str]:
    """Insert members directly and return a member token for each."""
    from app.auth import issue_member_token
    from app.extensions import db

    with app.app_context():
        ids = insert_members(count)
        db.session.commit()
        return [issue_member_token(i)[0] for i in ids]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=4000, help="check-ins per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    prefix = f"hyb-{secrets.token_hex(3)}:"
    rows, ratios, cost_ratios = [], [], []
    with fresh_database() as db_url:
        tokens = seed_members(app_for(db_url, prefix), args.members * args.rounds)
        with gunicorn_server(db_url, prefix, workers=args.workers, threads=args.threads) as base:
            auth = [{"Authorization": f"Bearer {t}"} for t in tokens]
            # Warm up every worker's connections and imports.
            drive("warm-up", lambda i, s: s.get(base + "/api/v1/ping", headers=auth[i]), 400, 16)
            for n in range(args.rounds):
                first = n * args.members
                noop = drive(
                    f"GET /api/v1/ping (no-op), round {n + 1}",
                    lambda i, s: s.get(base + "/api/v1/ping", headers=auth[i % len(auth)]),
                    args.members,
                    args.clients,
                )
                checkins = drive(
                    f"POST /api/v1/checkins, round {n + 1}",
                    lambda i, s, first=first: s.post(
                        base + "/api/v1/checkins", headers=auth[first + i]
                    ),
                    args.members,
                    args.clients,
                )
                rows += [noop, checkins]
                ratios.append(checkins.throughput / noop.throughput)
                cost_ratios.append(noop.cpu_ms / checkins.cpu_ms)
    print_table(
        rows,
        f"gunicorn {args.workers} workers x {args.threads} threads, {args.clients} clients, "
        f"{args.members} distinct members per round, PostgreSQL",
    )
    print(
        "check-in / no-op throughput per round: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + f"; median {statistics.median(ratios):.2f}"
    )
    print(
        "no-op / check-in machine CPU per request (the throughput ratio when the cores are the"
        " limit): "
        + ", ".join(f"{r:.2f}" for r in cost_ratios)
        + f"; median {statistics.median(cost_ratios):.2f}"
    )


if __name__ == "__main__":
    main()
