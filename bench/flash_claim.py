"""One hot coupon and one hot lottery under contention, on PostgreSQL behind gunicorn.

Claims (wrk, bench/harness.py: a Python client's CPU would cap the reference): every connection
hammers POST /api/v1/coupons/{id}/claims for one template whose stock is smaller than what the
members may claim (2 each), once without and once with a fresh Idempotency-Key per request
(each on its own template), beside the no-op GET /api/v1/ping measured by the same wrk before
each. A flash coupon sells out in seconds, after which every answer is a cheap 409: the figure
that matters is how fast the stock went, the "sell-out rate" = coupons issued / (last coupon's
created_at - first's), compared with ping's req/s. Then counts what one claim costs (statements
sent by the app, in-process, and PostgreSQL transactions per request during the wrk run) and
checks that exactly the stock was issued, nothing beyond, the per-member limit held.

Draws (Python client, to move to bench/draw_purchase.py): POST /api/v1/lotteries/{id}/draws for
one lottery with a scarce prize; checks every draw was charged once.

    .venv/bin/python bench/flash_claim.py [--members 3000] [--stock 2000] [--seconds 10]
        [--draws 3000] [--workers 4] [--threads 4] [--clients 32]
"""

from __future__ import annotations

import argparse
import secrets
from datetime import timedelta

import sqlalchemy as sa
from harness import (
    app_for,
    drive,
    fresh_database,
    gunicorn_server,
    insert_members,
    median,
    print_table,
    seed_points,
    wrk,
)

LIMIT_PER_MEMBER = 2


def seed(app, members: int, stock: int):
    """Members with points, two coupon templates (claims without and with a key) and one
    lottery; returns tokens and ids."""
    from app import clock
    from app.auth import issue_member_token
    from app.extensions import db
    from app.models.coupons import CouponTemplate
    from app.models.lottery import Lottery, LotteryPrize

    with app.app_context():
        now = clock.now()
        ids = insert_members(members, points_balance=1000)
        seed_points(ids, 1000, now)
        templates = [
            CouponTemplate(
                name=f"秒杀券{n}",
                kind="threshold_off",
                amount_off_fen=2000,
                threshold_fen=10000,
                validity_mode="relative",
                valid_days=7,
                stock_total=stock,
                limit_per_member=LIMIT_PER_MEMBER,
                audience="all",
                audience_tiers=[],
                claimable=True,
            )
            for n in range(3)  # plain, keyed, and one to count statements on
        ]
        lottery = Lottery(
            name="bench",
            cost_points=10,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
            daily_draw_limit=100,
        )
        db.session.add_all([*templates, lottery])
        db.session.flush()
        db.session.add_all(
            [
                LotteryPrize(lottery_id=lottery.id, name="无", kind="none", weight=6),
                LotteryPrize(
                    lottery_id=lottery.id, name="耳机", kind="physical", weight=1, stock_total=50
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
        db.session.commit()
        return [issue_member_token(i)[0] for i in ids], [t.id for t in templates], lottery.id


def check_claims(app, template_id: int, stock: int) -> dict:
    """What was issued of one template: exactly its stock once it sold out, never more, at
    most the limit per member, the holdings counting exactly the coupons; and how fast."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.coupons import Coupon, CouponHolding, CouponTemplate

    # One statement, so one snapshot: claims still in flight when wrk stopped commit whole
    # between statements, never inside one.
    with app.app_context():
        coupons, first, last, issued, most, held = db.session.execute(
            select(
                select(func.count(Coupon.id))
                .where(Coupon.template_id == template_id)
                .scalar_subquery(),
                select(func.min(Coupon.created_at))
                .where(Coupon.template_id == template_id)
                .scalar_subquery(),
                select(func.max(Coupon.created_at))
                .where(Coupon.template_id == template_id)
                .scalar_subquery(),
                select(CouponTemplate.issued)
                .where(CouponTemplate.id == template_id)
                .scalar_subquery(),
                select(func.count(Coupon.id))
                .where(Coupon.template_id == template_id)
                .group_by(Coupon.member_id)
                .order_by(func.count(Coupon.id).desc())
                .limit(1)
                .scalar_subquery(),
                select(func.coalesce(func.sum(CouponHolding.count), 0))
                .where(CouponHolding.template_id == template_id)
                .scalar_subquery(),
            )
        ).one()
        db.session.rollback()
    assert coupons == issued == held <= stock and most <= LIMIT_PER_MEMBER, (
        coupons,
        issued,
        held,
        most,
    )
    span = (last - first).total_seconds() if coupons > 1 else float("nan")
    return {"coupons": coupons, "rate": (coupons - 1) / span if span else float("nan")}


def check_draws(app, lottery_id: int) -> str:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.lottery import LotteryDraw, LotteryPrize
    from app.models.points import PointEntry

    with app.app_context():
        draws = db.session.scalar(select(func.count(LotteryDraw.id)))
        charges = db.session.scalar(
            select(func.count(PointEntry.id)).where(PointEntry.reason == "lottery")
        )
        headphones = db.session.scalar(
            select(LotteryPrize.won).where(
                LotteryPrize.lottery_id == lottery_id, LotteryPrize.name == "耳机"
            )
        )
    assert draws == charges and headphones <= 50, (draws, charges, headphones)
    return f"draws {draws}, charges {charges}, scarce prize won {headphones}/50"


def statements_per_claim(app, template_id: int, token: str) -> tuple[int, int]:
    """Statements the app sends for one claim (the member check included), without and with an
    Idempotency-Key, counted in-process on the bench database."""
    from app.extensions import db

    counts = []
    with app.app_context():
        engine = db.engine
    client = app.test_client()
    for headers in ({}, {"Idempotency-Key": "count-statements"}):
        sent: list[str] = []

        def count(conn, cursor, statement, *_):
            sent.append(statement)  # noqa: B023 -- removed before the next round

        headers = {"Authorization": f"Bearer {token}", **headers}
        client.get("/api/v1/ping", headers=headers)
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            answer = client.post(f"/api/v1/coupons/{template_id}/claims", headers=headers)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        assert answer.status_code == 201, answer.text
        counts.append(len(sent))
    return counts[0], counts[1]


def transactions(app) -> int:
    """PostgreSQL's count of committed transactions in the bench database."""
    from app.extensions import db

    with app.app_context():
        value = db.session.execute(
            sa.text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()
        db.session.rollback()
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--stock", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--draws", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    prefix = f"hyb-{secrets.token_hex(3)}:"
    with fresh_database() as db_url:
        app = app_for(db_url, prefix)
        tokens, template_ids, lottery_id = seed(app, args.members, args.stock)
        auth = [{"Authorization": f"Bearer {t}"} for t in tokens]
        n = len(auth)
        rows, pings, claims = [], [], []
        with gunicorn_server(db_url, prefix, workers=args.workers, threads=args.threads) as base:
            ping = [("GET", "/api/v1/ping", a, "") for a in auth]

            def run_wrk(name, requests_, fresh_key=False):
                return wrk(
                    name,
                    base,
                    requests_,
                    seconds=args.seconds,
                    connections=args.clients,
                    fresh_key=fresh_key,
                )

            run_wrk("warm-up", ping)
            for template_id, keyed in zip(template_ids[:2], (False, True), strict=True):
                pings.append(run_wrk("GET /api/v1/ping (no-op)", ping))
                before = transactions(app)
                path = f"/api/v1/coupons/{template_id}/claims"
                name = "POST /coupons/{id}/claims" + (" + Idempotency-Key" if keyed else "")
                run = run_wrk(name, [("POST", path, a, "") for a in auth], fresh_key=keyed)
                per_request = (transactions(app) - before) / max(run.count, 1)
                sold = check_claims(app, template_id, args.stock)
                rows += [pings[-1], run]
                claims.append((run, sold, per_request))
            draw_url = f"{base}/api/v1/lotteries/{lottery_id}/draws"
            draws = drive(
                "POST /lotteries/{id}/draws (hot, Python client)",
                lambda i, s: s.post(draw_url, headers=auth[i % n]),
                args.draws,
                args.clients,
            )
        unkeyed, keyed = statements_per_claim(app, template_ids[2], tokens[0])
        verdict = check_draws(app, lottery_id)
    print_table(
        rows + [draws],
        f"gunicorn {args.workers} workers x {args.threads} threads, wrk {args.clients} "
        f"connections x {args.seconds:g} s, {args.members} members, coupons of stock "
        f"{args.stock} ({LIMIT_PER_MEMBER} per member), one lottery, PostgreSQL",
    )
    reference = median([p.throughput for p in pings])
    for (run, sold, per_request), statements in zip(claims, (unkeyed, keyed), strict=True):
        refused = sum(v for k, v in run.statuses.items() if k != 201)
        exact = "sold out exactly at the stock" if sold["coupons"] == args.stock else "NOT sold out"
        print(
            f"{run.name}: sell-out rate {sold['rate']:,.0f} claims/s, ratio to ping "
            f"{sold['rate'] / reference:.2f} (all answers {run.throughput:,.0f}/s, "
            f"{run.throughput / reference:.2f}); {statements} statements and "
            f"{per_request:.2f} PostgreSQL transactions per request; issued "
            f"{sold['coupons']}/{args.stock} ({exact}), {refused} refused"
        )
    print(f"ping reference (median): {reference:,.0f} req/s; {verdict}")


if __name__ == "__main__":
    main()
