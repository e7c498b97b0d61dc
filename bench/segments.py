"""The nightly segments refresh on a synthetic chain, beside one plain GROUP BY over the purchases.

    .venv/bin/python bench/segments.py [--members 1000000] [--purchases 10000000] [--stores 50]
    .venv/bin/python bench/segments.py --generate-only     # generate once, keep the database
    .venv/bin/python bench/segments.py --reuse bench_...  # then time on it as often as needed

Generated in SQL (generate_series) into a fresh PostgreSQL database: members joined over three
years; purchases skewed (a few members buy very often, most rarely: member = N * u^2.5), each
after its member joined, amounts log-uniform from 10 to 550 yuan, mostly at the home store.
Times: the plain scan (count, sum, max per member) and the whole `segments_refresh` job: the
first night (every member's purchase summary built from all purchases), then two ordinary nights,
each after a day of trading (a day's share of the purchases, paid during the day, and refunds of
one in fifty of them) -- the nights the job spends its life on.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from harness import app_for, database_url, fresh_database

NOW = datetime(2026, 11, 25, 18, 30, tzinfo=UTC)  # 02:30 in Shanghai, the scheduled time
# Count, sum and latest purchase per member, all consumed by the outer query: PostgreSQL drops
# subquery columns nobody reads, and `SELECT COUNT(*) FROM (... GROUP BY member_id)` alone is
# answered from an index without computing a single sum.
PLAIN_SCAN = (
    "SELECT COUNT(*), SUM(n), SUM(spent), MAX(latest) FROM (SELECT member_id, COUNT(*) AS n,"
    " SUM(amount_fen) AS spent, MAX(paid_at) AS latest FROM purchases GROUP BY member_id) t"
)
MEMBER_DAY_INDEX = (
    "CREATE INDEX ix_purchases_member_business_day ON purchases"
    " (member_id, (timezone('Asia/Shanghai', paid_at)::date))"
    " INCLUDE (paid_at, amount_fen, refunded_fen)"
)


# The order lines' keys, dropped while the lines are loaded and made again afterwards.
LINES_KEYS = (
    "ALTER TABLE purchase_lines ADD CONSTRAINT uq_purchase_lines_purchase_id_line_no"
    " UNIQUE (purchase_id, line_no),"
    " ADD CONSTRAINT fk_purchase_lines_purchase_id_purchases FOREIGN KEY (purchase_id)"
    " REFERENCES purchases (id)"
)


def add_lines(engine: sa.Engine) -> None:
    """Every order's lines (what bench/analytics.py's baskets read): 1-3 lines an order (2 on
    average), 1-2 units each, 2,000 skus in 40 categories; the lines' amounts add up to the
    order's."""
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        conn.execute(
            sa.text(
                "ALTER TABLE purchase_lines DROP CONSTRAINT uq_purchase_lines_purchase_id_line_no,"
                " DROP CONSTRAINT fk_purchase_lines_purchase_id_purchases"
            )
        )
        conn.execute(
            sa.text(
                """
                INSERT INTO purchase_lines (purchase_id, line_no, sku, name, category, quantity,
                    unit_price_fen, amount_fen, refunded_fen)
                SELECT id, k, 'S' || sku, 'Item ' || sku, 'C' || (sku % 40), q,
                       amount / q, amount, 0
                FROM (
                    SELECT p.id, k, (p.id * 7 + k * 131) % 2000 AS sku, 1 + (p.id + k) % 2 AS q,
                           CASE WHEN k < n THEN p.amount_fen / n
                                ELSE p.amount_fen - (n - 1) * (p.amount_fen / n) END AS amount
                    FROM (SELECT id, amount_fen, 1 + id % 3 AS n FROM purchases) p,
                         generate_series(1, p.n) k
                ) l
                """
            )
        )


def generate(
    engine: sa.Engine, members: int, purchases: int, stores: int, lines: bool = True
) -> None:
    span = "interval '1095 days'"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO stores (code, name, address, is_active, created_at)"
                " SELECT 'B' || s, 'Bench store ' || s, '', true, now()"
                " FROM generate_series(1, :stores) s"
            ),
            {"stores": stores},
        )
        # Joined at a pseudo-random point of the last three years (a permutation of the ids).
        conn.execute(
            sa.text(
                f"""
                INSERT INTO members (member_no, referral_code, nickname, avatar_url, gender,
                    tier_code, points_balance, store_id, joined_at, updated_at)
                SELECT lpad(i::text, 12, '0'), 'R' || i, '', '', 0,
                       (ARRAY['normal','normal','normal','silver','gold'])[1 + i % 5],
                       (i * 37) % 5000, 1 + i % :stores,
                       :now - {span} + ((i::bigint * 7919) % :members) * ({span} / :members),
                       :now
                FROM generate_series(1, :members) i
                """
            ),
            {"members": members, "stores": stores, "now": NOW},
        )
        conn.execute(sa.text("DROP INDEX ix_purchases_member_paid"))
        conn.execute(sa.text("DROP INDEX ix_purchases_paid_at"))
        conn.execute(sa.text("DROP INDEX ix_purchases_member_business_day"))
        conn.execute(
            sa.text("ALTER TABLE purchases DROP CONSTRAINT uq_purchases_store_id_order_no")
        )
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        conn.execute(
            sa.text(
                f"""
                INSERT INTO purchases (store_id, order_no, member_id, source, amount_fen,
                    refunded_fen, items, points_awarded, points_reversed, fingerprint,
                    paid_at, created_at)
                SELECT CASE WHEN random() < 0.8 THEN 1 + m % :stores
                            ELSE 1 + (g % :stores) END,
                       'b' || g, m, 'till', (1000 * exp(random() * 4))::int, 0,
                       1 + g % 5, 0, 0, '', paid, paid
                FROM (
                    SELECT g, m,
                           joined + random() * (:now - joined) AS paid
                    FROM (
                        SELECT g, m,
                               :now - {span} + ((m::bigint * 7919) % :members) * ({span} / :members)
                                   AS joined
                        FROM (SELECT g, 1 + floor(:members * power(random(), 2.5))::int AS m
                              FROM generate_series(1, :purchases) g) picked
                    ) j
                ) p
                """
            ),
            {"members": members, "purchases": purchases, "stores": stores, "now": NOW},
        )
    print(f"  purchases inserted in {time.perf_counter() - started:.0f} s")
    if lines:
        started = time.perf_counter()
        add_lines(engine)
        print(f"  purchase lines inserted in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL maintenance_work_mem = '512MB'"))
        if lines:
            conn.execute(sa.text(LINES_KEYS))
        conn.execute(
            sa.text(
                "ALTER TABLE purchases ADD CONSTRAINT uq_purchases_store_id_order_no"
                " UNIQUE (store_id, order_no)"
            )
        )
        conn.execute(
            sa.text("CREATE INDEX ix_purchases_member_paid ON purchases (member_id, paid_at)")
        )
        conn.execute(sa.text("CREATE INDEX ix_purchases_paid_at ON purchases (paid_at)"))
        conn.execute(sa.text(MEMBER_DAY_INDEX))  # as migration i7_segments_speed builds it
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    print(f"  indexes and VACUUM ANALYZE in {time.perf_counter() - started:.0f} s")


def trade_one_day(engine: sa.Engine, day: int, members: int, purchases: int, stores: int) -> str:
    """A day of trading after NOW + (day - 1) days: a day's share of the purchases (the same skew),
    paid during that day, and one in fifty of them refunded in full."""
    start = NOW + timedelta(days=day - 1)
    with engine.begin() as conn:
        added = conn.execute(
            sa.text(
                """
                INSERT INTO purchases (store_id, order_no, member_id, source, amount_fen,
                    refunded_fen, items, points_awarded, points_reversed, fingerprint,
                    paid_at, created_at)
                SELECT 1 + m % :stores, 'd' || :day || '-' || g, m, 'till',
                       (1000 * exp(random() * 4))::int, 0, 1, 0, 0, '', paid, paid
                FROM (SELECT g, 1 + floor(:members * power(random(), 2.5))::int AS m,
                             :start + random() * interval '1 day' AS paid
                      FROM generate_series(1, :n) g) p
                """
            ),
            {
                "stores": stores,
                "day": day,
                "members": members,
                "start": start,
                "n": purchases // 1095,
            },
        ).rowcount
        refunded = conn.execute(
            sa.text(
                "UPDATE purchases SET refunded_fen = amount_fen"
                " WHERE order_no LIKE :prefix AND random() < 0.02"
            ),
            {"prefix": f"d{day}-%"},
        ).rowcount
    return f"{added:,} purchases, {refunded:,} refunded"


@contextlib.contextmanager
def reused_database(name: str):
    """A database an earlier `--keep` run left behind (generating it takes minutes)."""
    yield database_url(name)


def timed(label: str, fn) -> float:
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    if isinstance(result, dict) and "seconds" in result:  # the job's record: its steps
        result = "steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in result["seconds"].items())
    print(f"  {label:<44} {elapsed:7.2f} s   {result if result is not None else ''}")
    return elapsed


def marketer_headers(app, engine: sa.Engine) -> dict:
    """The Authorization header of a new marketer (bench/analytics.py signs in with it too)."""
    from app.auth import issue_staff_token

    with engine.begin() as conn:
        staff_id = conn.execute(
            sa.text(
                "INSERT INTO staff (username, password_hash, role, display_name, is_active,"
                " staff_code, created_at, updated_at) VALUES ('bench-marketer-'"
                " || md5(random()::text), '!', 'marketer', '', true,"
                " upper(substr(md5(random()::text), 1, 8)), now(), now()) RETURNING id"
            )
        ).scalar_one()
    with app.app_context():
        return {"Authorization": "Bearer " + issue_staff_token(staff_id)[0]}


def time_report(app, engine: sa.Engine) -> dict:
    """The report over HTTP (the app's test client, a marketer's token): the stored figures the
    refresh left, then computed live; milliseconds, the better of three."""
    headers = marketer_headers(app, engine)
    client = app.test_client()
    figures = {}
    for name, query in (("stored", ""), ("live", "?live=true")):
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            response = client.get("/staff/v1/admin/segments" + query, headers=headers)
            runs.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            assert response.get_json()["source"] == name
        figures[name] = min(runs)
        print(f"  GET /staff/v1/admin/segments{query:<11} {figures[name]:9.0f} ms")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument(
        "--no-lines",
        action="store_true",
        help="generate no order lines (bench/analytics.py needs them)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", metavar="DBNAME", help="time again on a database kept by an earlier --keep run"
    )
    parser.add_argument(
        "--generate-only", action="store_true", help="generate (and keep) the data, time nothing"
    )
    args = parser.parse_args()
    keep = args.keep or args.generate_only
    with reused_database(args.reuse) if args.reuse else fresh_database(keep=keep) as db_url:
        engine = sa.create_engine(db_url)
        if not args.reuse:
            print(f"generating {args.members:,} members, {args.purchases:,} purchases ...")
            started = time.perf_counter()
            generate(engine, args.members, args.purchases, args.stores, not args.no_lines)
            print(f"  generated in {time.perf_counter() - started:.0f} s")
        if args.generate_only:
            return
        app = app_for(db_url, prefix="hyb-segments:")
        from jobs.schedule import run_job

        def scan():
            with engine.connect() as conn:
                return conn.execute(sa.text(PLAIN_SCAN)).one()[0]

        with engine.begin() as conn:  # the trading days of an earlier --reuse run
            conn.execute(sa.text("DELETE FROM purchases WHERE order_no LIKE 'd%'"))
        timed("plain GROUP BY over purchases (cold)", scan)
        plain = timed("plain GROUP BY over purchases", scan)
        with app.app_context():
            first = timed(
                "segments_refresh (first night: all summaries)",
                lambda: run_job("segments_refresh", NOW),
            )
            nights = []
            for day in (1, 2):
                traded = trade_one_day(engine, day, args.members, args.purchases, args.stores)
                print(f"  day {day}: {traded}")
                nights.append(
                    timed(
                        f"segments_refresh (night {day})",
                        lambda day=day: run_job("segments_refresh", NOW + timedelta(days=day)),
                    )
                )
            report_reads = time_report(app, engine)
        print(
            f"\nrefresh / plain scan: first night {first / plain:.1f}x, later nights "
            + ", ".join(f"{night / plain:.1f}x" for night in nights)
            + "  (goal: < 60 s and within 3x)"
        )
        print(
            "GET /staff/v1/admin/segments: stored {stored:.0f} ms, live {live:.0f} ms"
            " (goal: < 300 ms)".format(**report_reads)
        )
        engine.dispose()


if __name__ == "__main__":
    main()
