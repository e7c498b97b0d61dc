"""The order import of a `lines` file (one row per order line), beside a plain COPY of the same
file into a bare table, for 100k and 1M lines: the import must run at least 50,000 lines/s and
grow linearly.

    .venv/bin/python bench/order_import.py [--sizes 100000 1000000] [--lines-per-order 3]

Each size gets a fresh database (migrations applied) with 20 stores. The file: orders of 1 to
5 lines (3 on average) over the last two years, customers drawn so that about one order in six
is a new customer's (so members are matched and created in bulk), 2,000 skus in 40 categories.
Timed: the whole `import_orders` (parse in Python, COPY to staging, the set-based merge, commit),
then a second run of the same file (everything already imported), and, as the reference, psql's
own `\\copy` of the file into an unlogged table of text columns (PostgreSQL reading the bytes,
no Python at all). Checked afterwards: purchases = orders of the file, lines stored = lines, the
lines' amounts add up to the purchases' amounts.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from harness import app_for, fresh_database

HEADER = (
    "order_no,store_code,customer_id,phone,paid_at,sku,name,category,quantity,"
    "unit_price_fen,amount_fen\n"
)
NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def write_file(path: str, lines: int, per_order: int, seed: int = 18) -> int:
    """The file, and how many orders it holds."""
    rng = random.Random(seed)
    start = NOW - timedelta(days=730)
    orders = 0
    customers = max(lines // (per_order * 6), 1)
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        while written < lines:
            orders += 1
            n = min(rng.randint(1, 2 * per_order - 1), lines - written)
            customer = rng.randrange(customers)
            store = 1 + customer % 20
            paid = (start + timedelta(seconds=rng.randrange(730 * 86400))).strftime(
                "%Y-%m-%dT%H:%M:%S+00:00"
            )
            for _ in range(n):
                sku = rng.randrange(2000)
                quantity = rng.randint(1, 4)
                price = 100 + (sku * 37) % 4900
                out.write(
                    f"B{orders},S{store:02d},K{customer},,{paid},{690000 + sku},item {sku},"
                    f"cat {sku % 40},{quantity},{price},{quantity * price}\n"
                )
            written += n
    return orders


def plain_copy(db_url: str, path: str) -> float:
    """psql's \\copy of the file into an unlogged table of text columns: the floor."""
    url = sa.engine.make_url(db_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    columns = ", ".join(f"c{i} text" for i in range(11))
    subprocess.run(
        [
            "psql",
            dsn,
            "-qc",
            f"DROP TABLE IF EXISTS copy_ref; CREATE UNLOGGED TABLE copy_ref ({columns})",
        ],
        check=True,
    )
    started = time.perf_counter()
    subprocess.run(
        ["psql", dsn, "-qc", f"\\copy copy_ref FROM '{path}' WITH (FORMAT csv, HEADER true)"],
        check=True,
    )
    return time.perf_counter() - started


def run(size: int, per_order: int) -> dict:
    with fresh_database() as db_url, tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "lines.csv")
        orders = write_file(path, size, per_order)
        app = app_for(db_url, prefix=f"hyb-import-{size}:", job_process=False)
        from app import clock
        from app.db_timeouts import job_timeouts
        from app.extensions import db
        from app.services.till import order_import

        with app.app_context(), job_timeouts(app):
            clock.freeze(NOW)
            engine = db.engine
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO stores (code, name, address, is_active, created_at)"
                        " SELECT 'S' || lpad(s::text, 2, '0'), 'Store ' || s, '', true, now()"
                        " FROM generate_series(1, 20) s"
                    )
                )
            timings = []
            for label in ("first", "again"):
                with open(path, encoding="utf-8", newline="") as handle:
                    started = time.perf_counter()
                    report = order_import.import_orders(db.session, handle, "lines", now=NOW)
                    timings.append(time.perf_counter() - started)
                counts = report.as_dict()
                print(f"  {size:>9,} lines, {label:<5}: {timings[-1]:6.2f} s "
                      f"({size / timings[-1]:,.0f} lines/s)  {counts}")  # fmt: skip
                if label == "first":
                    assert counts["imported"] == orders and counts["lines_stored"] == size, counts
                else:
                    assert counts["imported"] == 0 and counts["already_imported"] == orders
            with engine.connect() as conn:
                mismatched = conn.execute(
                    sa.text(
                        "SELECT COUNT(*) FROM purchases p JOIN (SELECT purchase_id,"
                        " SUM(amount_fen) AS total FROM purchase_lines GROUP BY purchase_id) l"
                        " ON l.purchase_id = p.id WHERE l.total <> p.amount_fen"
                    )
                ).scalar_one()
                members = conn.execute(sa.text("SELECT COUNT(*) FROM members")).scalar_one()
            assert mismatched == 0
            clock.freeze(None)
            db.session.remove()
            engine.dispose()
        reference = plain_copy(db_url, path)
        rate = size / reference
        print(f"  {size:>9,} lines, plain \\copy: {reference:6.2f} s ({rate:,.0f} lines/s);"
              f" {orders:,} orders, {members:,} members")  # fmt: skip
        return {"size": size, "import": timings[0], "again": timings[1], "copy": reference}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--lines-per-order", type=int, default=3)
    args = parser.parse_args()
    print("orders import --format lines (a fresh database per size)")
    results = [run(size, args.lines_per_order) for size in args.sizes]
    print("\nsize        import lines/s   again lines/s   plain copy lines/s   import/copy time")
    for r in results:
        size = r["size"]
        print(
            f"{size:>9,}   {size / r['import']:>14,.0f}   {size / r['again']:>13,.0f}"
            f"   {size / r['copy']:>18,.0f}   {r['import'] / r['copy']:>15.1f}x"
        )
    if len(results) > 1:
        first, last = results[0], results[-1]
        growth = (last["import"] / first["import"]) / (last["size"] / first["size"])
        print(f"cost per line, largest vs smallest: {growth:.2f}x (1.00 = linear)")


if __name__ == "__main__":
    main()
