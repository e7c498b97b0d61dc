"""The audience filter's `likely_buyers_of` on held-out purchases: does the co-purchase lift find
the members who go on to buy a category, better than random and than the most active members?

    .venv/bin/python bench/likely_buyers.py [--members 20000] [--top 250 500 1000 2000]

A synthetic chain with planted co-purchase structure, in a fresh database (`bench_aud18_...`,
dropped afterwards): 30 categories; each member has one of 6 tastes, and 60 % of the lines of
their orders come from their taste's 5 core categories (the rest from the whole range, more
popular categories more often). The target category ("cat 29") is in the core of two tastes, so
members of those tastes buy it more and with the other core categories of their taste. How often
members buy is skewed (gamma, most buy little; heavy buyers buy more of everything, the target
included: the most-active baseline is a real rival). 3 % of orders are refunded in full.
Purchases run over 18 months; the model is fitted as of the cut (12 months in: the filter runs
with the clock set there, so it sees nothing later), and the outcome is who buys the target in
the 6 months after, among the members who had not bought it by the cut.

Printed for each N: the hit rate (share of the N who buy the target after the cut) of the filter
(20 pseudo-members), of the lift without shrinkage and with 100 pseudo-members, of N random
eligible members (mean of 20 draws), of the most active eligible members (most orders before the
cut), and the base rate (every eligible member); lift over random = hit rate / base rate.
"""

from __future__ import annotations

import argparse
import io
import secrets
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import sqlalchemy as sa
from harness import app_for, fresh_database, insert_members

START = datetime(2025, 1, 1, tzinfo=UTC)
CUT = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 7, 1, tzinfo=UTC)
CATEGORIES = 30
TASTES = 6
CORE_SHARE = 0.6
TARGET = CATEGORIES - 1


def category_name(c: int) -> str:
    return f"cat {c:02d}"


def plant(rng: np.random.Generator, members: int):
    """Orders (member index, paid_at seconds from START, refunded) and their lines (order index,
    category, amount fen)."""
    cores = [list(range(5 * g, 5 * g + 5)) for g in range(TASTES)]
    cores[0].append(TARGET)
    cores[1].append(TARGET)
    taste = rng.integers(0, TASTES, members)
    # Orders over the 18 months: mean 6, skewed (gamma 0.8): most buy little, a few a lot.
    rate = rng.gamma(0.8, 6 / 0.8, members)
    per_member = rng.poisson(rate)
    order_member = np.repeat(np.arange(members), per_member)
    span = (END - START).total_seconds()
    order_at = rng.uniform(0, span, len(order_member))
    order_refunded = rng.random(len(order_member)) < 0.03
    per_order = 1 + rng.poisson(1.5, len(order_member))
    line_order = np.repeat(np.arange(len(order_member)), per_order)
    line_taste = taste[order_member[line_order]]
    popularity = 1 / np.arange(1, CATEGORIES + 1) ** 0.7
    popularity /= popularity.sum()
    category = rng.choice(CATEGORIES, len(line_order), p=popularity)
    from_core = rng.random(len(line_order)) < CORE_SHARE
    for g, core in enumerate(cores):
        pick = from_core & (line_taste == g)
        category[pick] = np.asarray(core)[rng.integers(0, len(core), pick.sum())]
    amount = rng.integers(100, 5000, len(line_order))
    return (order_member, order_at, order_refunded), (line_order, category, amount)


def copy_rows(conn, statement: str, rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(str(v) for v in row) + "\n")
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(statement) as copy:
        copy.write(buffer.getvalue())


def load(db, member_ids: list[int], orders, lines) -> None:
    order_member, order_at, order_refunded = orders
    line_order, category, amount = lines
    totals = np.bincount(line_order, weights=amount, minlength=len(order_member)).astype(int)
    with db.engine.begin() as conn:
        store = conn.execute(
            sa.text(
                "INSERT INTO stores (code, name, address, is_active, created_at)"
                " VALUES ('LB', 'Bench', '', true, now()) RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            sa.text(
                "CREATE TEMPORARY TABLE stage_orders (n bigint, member_id bigint,"
                " paid_at timestamptz, amount bigint, refunded boolean)"
            )
        )
        copy_rows(
            conn,
            "COPY stage_orders FROM STDIN",
            (
                (n, member_ids[m], (START + timedelta(seconds=float(at))).isoformat(), t, r)
                for n, (m, at, t, r) in enumerate(
                    zip(order_member, order_at, totals, order_refunded, strict=True)
                )
            ),
        )
        conn.execute(
            sa.text(
                "INSERT INTO purchases (store_id, order_no, member_id, source, amount_fen,"
                " refunded_fen, items, points_awarded, points_reversed, fingerprint, paid_at,"
                " created_at)"
                " SELECT :store, 'LB' || n, member_id, 'import', amount,"
                " CASE WHEN refunded THEN amount ELSE 0 END, 0, 0, 0, '', paid_at, now()"
                " FROM stage_orders"
            ),
            {"store": store},
        )
        conn.execute(
            sa.text(
                "CREATE TEMPORARY TABLE stage_lines (n bigint, line_no int, category text,"
                " amount bigint)"
            )
        )
        starts = np.r_[0, np.flatnonzero(np.diff(line_order)) + 1]
        counts = np.diff(np.r_[starts, len(line_order)])
        line_no = np.arange(len(line_order)) - np.repeat(starts, counts) + 1
        copy_rows(
            conn,
            "COPY stage_lines FROM STDIN",
            zip(line_order, line_no, (category_name(c) for c in category), amount, strict=True),
        )
        conn.execute(
            sa.text(
                "INSERT INTO purchase_lines (purchase_id, line_no, sku, name, category, quantity,"
                " unit_price_fen, amount_fen, refunded_fen)"
                " SELECT p.id, s.line_no, 'sku-' || s.category, s.category, s.category, 1,"
                " s.amount, s.amount, 0"
                " FROM stage_lines s JOIN purchases p ON p.store_id = :store"
                " AND p.order_no = 'LB' || s.n"
            ),
            {"store": store},
        )
        conn.execute(sa.text("ANALYZE"))


_COUNTS = "(p.refunded_fen < p.amount_fen OR p.amount_fen = 0)"
_TARGET_BUYERS = f"""
    SELECT DISTINCT p.member_id FROM purchase_lines l JOIN purchases p ON p.id = l.purchase_id
    WHERE l.category = :target AND {_COUNTS} AND p.paid_at > :after AND p.paid_at <= :until
"""


def measure(db, tops: list[int], rng: np.random.Generator) -> list[dict]:
    from app import clock
    from app.services.messaging import audience_purchases, audiences

    target = category_name(TARGET)
    session = db.session
    bought_before = set(
        session.execute(
            sa.text(_TARGET_BUYERS), {"target": target, "after": START - timedelta(1), "until": CUT}
        ).scalars()
    )
    bought_after = set(
        session.execute(
            sa.text(_TARGET_BUYERS), {"target": target, "after": CUT, "until": END}
        ).scalars()
    )
    all_members = session.execute(sa.text("SELECT id FROM members ORDER BY id")).scalars().all()
    eligible = np.array([m for m in all_members if m not in bought_before])
    base_rate = len(bought_after.intersection(eligible.tolist())) / len(eligible)
    active = (
        session.execute(
            sa.text(
                f"SELECT m.id FROM members m LEFT JOIN purchases p ON p.member_id = m.id"
                f" AND p.paid_at <= :cut AND {_COUNTS}"
                f" WHERE m.id <> ALL(:bought) GROUP BY m.id ORDER BY COUNT(p.id) DESC, m.id"
            ),
            {"cut": CUT, "bought": list(bought_before)},
        )
        .scalars()
        .all()
    )

    def hit_rate(ids) -> float:
        ids = list(ids)
        return sum(1 for i in ids if i in bought_after) / len(ids) if ids else float("nan")

    clock.freeze(CUT)
    rows = []
    timings = []
    for top in tops:
        filter = {"likely_buyers_of": {"category": target, "top": top}}
        started = time.perf_counter()
        model = session.execute(audiences.member_ids_query(filter)).scalars().all()
        timings.append(time.perf_counter() - started)
        assert not set(model) & bought_before
        variants = {}
        for k in (0, 100):
            scores = audience_purchases.scores_query(target, pseudo_members=k)
            variants[k] = (
                session.execute(
                    sa.select(scores.c.member_id)
                    .order_by(scores.c.score.desc(), scores.c.member_id)
                    .limit(top)
                )
                .scalars()
                .all()
            )
        random_rates = [hit_rate(rng.choice(eligible, top, replace=False)) for _ in range(20)]
        rows.append(
            {
                "top": top,
                "ranked": len(model),
                "model": hit_rate(model),
                "k0": hit_rate(variants[0]),
                "k100": hit_rate(variants[100]),
                "random": float(np.mean(random_rates)),
                "active": hit_rate(active[:top]),
            }
        )
    clock.freeze(None)
    session.remove()
    summary = {
        "members": len(all_members),
        "eligible": len(eligible),
        "bought_before": len(bought_before),
        "buyers_after_eligible": len(bought_after.intersection(eligible.tolist())),
        "base_rate": base_rate,
        "seconds": timings,
    }
    return rows, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--top", type=int, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    name = f"bench_aud18_{secrets.token_hex(3)}"
    with fresh_database(name=name) as db_url:
        app = app_for(db_url, prefix="hyb-likely:")
        from app.extensions import db

        with app.app_context():
            started = time.perf_counter()
            member_ids = insert_members(args.members)
            db.session.commit()
            orders, lines = plant(rng, args.members)
            load(db, member_ids, orders, lines)
            print(
                f"planted {args.members:,} members, {len(orders[0]):,} orders,"
                f" {len(lines[0]):,} lines in {time.perf_counter() - started:.1f} s"
            )
            rows, summary = measure(db, args.top, rng)
            db.session.remove()
            db.engine.dispose()
    base = summary["base_rate"]
    print(
        f"target {category_name(TARGET)}: {summary['bought_before']:,} members bought it by the"
        f" cut; of the {summary['eligible']:,} others, {summary['buyers_after_eligible']:,}"
        f" bought it in the 6 months after (base rate {base:.2%})"
    )
    print(
        f"{'top N':>6} {'ranked':>6} {'filter':>7} {'x rand':>6} {'k=0':>7} {'k=100':>7}"
        f" {'random':>7} {'active':>7} {'x rand':>6} {'filter/active':>13}"
    )
    for row in rows:
        print(
            f"{row['top']:>6} {row['ranked']:>6} {row['model']:>7.2%}"
            f" {row['model'] / base:>6.2f} {row['k0']:>7.2%} {row['k100']:>7.2%}"
            f" {row['random']:>7.2%} {row['active']:>7.2%} {row['active'] / base:>6.2f}"
            f" {row['model'] / row['active']:>13.2f}"
        )
    timings = ", ".join(f"{s:.2f}" for s in summary["seconds"])
    print(f"filter query (rank and take the top N) seconds: {timings}")


if __name__ == "__main__":
    main()
