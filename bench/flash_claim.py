"""One hot coupon and one hot lottery under contention, on PostgreSQL behind gunicorn.

Claims: every client hammers POST /api/v1/coupons/{id}/claims for the same template (stock
smaller than the number of claims, so both wins and sell-out refusals are measured); then the
same for POST /api/v1/lotteries/{id}/draws (one lottery, a scarce prize). Prints req/s and
latency percentiles beside the no-op GET /api/v1/ping, then checks nothing was oversold.

    .venv/bin/python bench/flash_claim.py [--members 3000] [--claims 6000] [--stock 2000]
        [--draws 3000] [--workers 4] [--threads 4] [--clients 32]
"""

from __future__ import annotations

import argparse
import secrets
from datetime import timedelta

from harness import app_for, drive, fresh_database, gunicorn_server, insert_members, print_table


def seed(app, members: int, stock: int):
    """Members with points, one coupon template and one lottery; returns tokens and ids."""
    from app import clock
    from app.auth import issue_member_token
    from app.extensions import db
    from app.models.coupons import CouponTemplate
    from app.models.lottery import Lottery, LotteryPrize
    from app.models.points import PointEntry, PointLot

    with app.app_context():
        now = clock.now()
        ids = insert_members(members, points_balance=1000)
        # Seed balances straight into the ledger tables (one entry and one lot each).
        db.session.execute(
            PointEntry.__table__.insert(),
            [
                {
                    "member_id": i,
                    "delta": 1000,
                    "reason": "adjustment",
                    "ref": f"seed:{i}",
                    "balance_after": 1000,
                    "note": "",
                    "created_at": now,
                }
                for i in ids
            ],
        )
        entries = dict(db.session.query(PointEntry.member_id, PointEntry.id))
        db.session.execute(
            PointLot.__table__.insert(),
            [
                {
                    "member_id": i,
                    "entry_id": entries[i],
                    "earned": 1000,
                    "remaining": 1000,
                    "expires_on": (now + timedelta(days=365)).date(),
                    "created_at": now,
                }
                for i in ids
            ],
        )
        template = CouponTemplate(
            name="秒杀券",
            kind="threshold_off",
            amount_off_fen=2000,
            threshold_fen=10000,
            validity_mode="relative",
            valid_days=7,
            stock_total=stock,
            limit_per_member=2,
            audience="all",
            audience_tiers=[],
            claimable=True,
        )
        lottery = Lottery(
            name="bench",
            cost_points=10,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
            daily_draw_limit=100,
        )
        db.session.add_all([template, lottery])
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
        return [issue_member_token(i)[0] for i in ids], template.id, lottery.id


def check(app, template_id: int, lottery_id: int, stock: int) -> str:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.coupons import Coupon, CouponTemplate
    from app.models.lottery import LotteryDraw, LotteryPrize
    from app.models.points import PointEntry

    with app.app_context():
        coupons = db.session.scalar(select(func.count(Coupon.id)))
        issued = db.session.get(CouponTemplate, template_id).issued
        most = db.session.scalar(
            select(func.count(Coupon.id))
            .group_by(Coupon.member_id)
            .order_by(func.count(Coupon.id).desc())
            .limit(1)
        )
        draws = db.session.scalar(select(func.count(LotteryDraw.id)))
        charges = db.session.scalar(
            select(func.count(PointEntry.id)).where(PointEntry.reason == "lottery")
        )
        headphones = db.session.scalar(
            select(LotteryPrize.won).where(
                LotteryPrize.lottery_id == lottery_id, LotteryPrize.name == "耳机"
            )
        )
    assert coupons == issued <= stock and most <= 2, (coupons, issued, most)
    assert draws == charges and headphones <= 50, (draws, charges, headphones)
    return (
        f"coupons issued {coupons}/{stock} (max per member {most}); draws {draws}, "
        f"charges {charges}, scarce prize won {headphones}/50"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--claims", type=int, default=6000)
    parser.add_argument("--stock", type=int, default=2000)
    parser.add_argument("--draws", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    prefix = f"hyb-{secrets.token_hex(3)}:"
    with fresh_database() as db_url:
        app = app_for(db_url, prefix)
        tokens, template_id, lottery_id = seed(app, args.members, args.stock)
        auth = [{"Authorization": f"Bearer {t}"} for t in tokens]
        n = len(auth)
        with gunicorn_server(db_url, prefix, workers=args.workers, threads=args.threads) as base:
            drive(
                "warm-up", lambda i, s: s.get(base + "/api/v1/ping", headers=auth[i % n]), 400, 16
            )
            noop = drive(
                "GET /api/v1/ping (no-op)",
                lambda i, s: s.get(base + "/api/v1/ping", headers=auth[i % n]),
                args.claims,
                args.clients,
            )
            claim_url = f"{base}/api/v1/coupons/{template_id}/claims"
            claims = drive(
                "POST /coupons/{id}/claims (hot)",
                lambda i, s: s.post(claim_url, headers=auth[i % n]),
                args.claims,
                args.clients,
            )
            draw_url = f"{base}/api/v1/lotteries/{lottery_id}/draws"
            draws = drive(
                "POST /lotteries/{id}/draws (hot)",
                lambda i, s: s.post(draw_url, headers=auth[i % n]),
                args.draws,
                args.clients,
            )
        verdict = check(app, template_id, lottery_id, args.stock)
    print_table(
        [noop, claims, draws],
        f"gunicorn {args.workers} workers x {args.threads} threads, {args.clients} clients, "
        f"{args.members} members, one coupon (stock {args.stock}, 2 per member) and one "
        "lottery, PostgreSQL",
    )
    print(verdict)


if __name__ == "__main__":
    main()
