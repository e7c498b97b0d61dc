"""The four analytics endpoints on the segments bench's synthetic chain, beside one plain GROUP BY.

    .venv/bin/python bench/analytics.py --reuse bench_...   # a database bench/segments.py kept
    .venv/bin/python bench/analytics.py [--members 1000000] [--purchases 10000000]

The data are bench/segments.py's (members over three years, skewed purchases, every order with
1-3 lines of 2,000 skus in 40 categories), generated afresh unless `--reuse` names a database
kept by `bench/segments.py --generate-only` (or `--keep`). The nightly `segments_refresh` runs
once first (`--no-refresh` skips it), as every night does before marketing reads the figures.
Each endpoint is requested over HTTP (the app's test client, a marketer's token), the better of
three, beside the plain GROUP BY over the purchases (count, sum and latest purchase per member)
of the same run. The goal (issue 18) is 2 s for each at 1M members and 10M orders.
"""

from __future__ import annotations

import argparse
import time

import sqlalchemy as sa
from harness import app_for, fresh_database
from segments import NOW, PLAIN_SCAN, generate, marketer_headers, reused_database

# The month and days asked: the last whole month of the generated history (NOW is 2026-11-25).
QUESTIONS = (
    ("gmv", "gmv?month=2026-10"),
    ("gmv, one store", "gmv?month=2026-10&store_id=1"),
    ("cohorts, 12 months", "cohorts?from=2025-11&to=2026-10"),
    ("cohorts, 36 months", "cohorts?from=2023-12&to=2026-11"),
    ("cohorts, one store", "cohorts?from=2023-12&to=2026-11&store_id=1"),
    ("repurchase", "repurchase"),
    ("repurchase, one store", "repurchase?store_id=1"),
    ("baskets, a month", "baskets?from=2026-10-01&to=2026-10-31"),
    ("baskets, one store", "baskets?from=2026-10-01&to=2026-10-31&store_id=1"),
    ("baskets, one category", "baskets?from=2026-10-01&to=2026-10-31&category=C7"),
)
GOAL_SECONDS = 2.0


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--reuse", metavar="DBNAME", help="a database bench/segments.py kept")
    parser.add_argument("--no-refresh", action="store_true", help="do not run the refresh first")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with reused_database(args.reuse) if args.reuse else fresh_database() as db_url:
        engine = sa.create_engine(db_url)
        if not args.reuse:
            print(f"generating {args.members:,} members, {args.purchases:,} purchases ...")
            generate(engine, args.members, args.purchases, args.stores)
        app = app_for(db_url, prefix="hyb-analytics:")
        with engine.connect() as conn:
            sizes = conn.execute(
                sa.text(
                    "SELECT (SELECT COUNT(*) FROM members), (SELECT COUNT(*) FROM purchases),"
                    " (SELECT COUNT(*) FROM purchase_lines)"
                )
            ).one()
        print(f"{sizes[0]:,} members, {sizes[1]:,} purchases, {sizes[2]:,} order lines")
        if not args.no_refresh:
            from jobs.schedule import run_job

            with app.app_context():
                started = time.perf_counter()
                run_job("segments_refresh", NOW)
                print(f"  segments_refresh first   {time.perf_counter() - started:7.2f} s")

        def scan():
            with engine.connect() as conn:
                conn.execute(sa.text(PLAIN_SCAN)).one()

        scan()  # warm
        plain = best_of(args.runs, scan)
        print(f"  {'plain GROUP BY over purchases':<40} {plain:7.2f} s   1.00x")
        headers = marketer_headers(app, engine)
        client = app.test_client()
        slow = []
        for label, query in QUESTIONS:
            url = "/staff/v1/admin/analytics/" + query

            def ask(url=url):
                response = client.get(url, headers=headers)
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
                return response.get_json()

            source = ask().get("source", "live")
            seconds = best_of(args.runs, ask)
            if seconds > GOAL_SECONDS:
                slow.append(label)
            print(f"  {label:<40} {seconds:7.2f} s   {seconds / plain:5.2f}x   ({source}) {url}")
        print(
            f"\ngoal: each within {GOAL_SECONDS:.0f} s at 1M members / 10M orders;"
            + (" over it: " + ", ".join(slow) if slow else " all within it")
        )
        engine.dispose()


if __name__ == "__main__":
    main()
