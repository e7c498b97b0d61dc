"""The morning rush: locust (headless, as a library) against gunicorn on PostgreSQL and Redis.

Shoppers sign in (sandbox `test:<name>` codes), check in, refresh the member code, look at their
account, draw the lottery and claim coupons; clerks scan member codes and ring up purchases.
Prints throughput and p50/p95/p99 per endpoint beside the same server's no-op (GET /api/v1/ping),
then checks over the whole database that the ledger, coupon stock and prize stock add up.

    .venv/bin/python bench/load.py [--users 60] [--seconds 60] [--workers 4] [--threads 8]
"""

from __future__ import annotations

import argparse
import itertools
import random
import secrets
import sys
import threading
from datetime import timedelta

import gevent

# locust patches the standard library for gevent: it must be imported first.
import locust  # noqa: I001
from harness import app_for, fresh_database, gunicorn_server
from locust import HttpUser, between, task
from locust.env import Environment
from sqlalchemy import text

MEMBERS = 3_000
CLERKS = 40  # each scans at most 60 codes a minute (the limit); a busy till does far fewer
COUPON_STOCK = 400
_members = itertools.count(1)
_clerks = itertools.count(0)
_orders = itertools.count(1)
_lock = threading.Lock()
SEED: dict = {}


def _fake_address() -> str:
    # Shoppers come from many addresses; behind the proxy (PROXY_HOPS=1) limits count per shopper.
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


class Shopper(HttpUser):
    """A member opening the mini-program in the morning."""

    weight = 9
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        with _lock:
            self.n = next(_members)
        self.client.headers["X-Forwarded-For"] = _fake_address()
        with self.client.post(
            "/api/v1/auth/login",
            json={"code": f"test:shopper{self.n}"},
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} {response.text[:120]}")
                self.auth = None
                return
            self.auth = {"Authorization": "Bearer " + response.json()["token"]}
        self.checked_in = False

    @task(1)
    def check_in(self) -> None:
        if not self.auth or self.checked_in:
            return
        self._post("/api/v1/checkins", ok={201}, fine={"checkin.already_done"})
        self.checked_in = True

    @task(4)
    def member_code(self) -> None:
        if self.auth:
            self.client.get("/api/v1/me/member-code", headers=self.auth)

    @task(2)
    def me(self) -> None:
        if self.auth:
            self.client.get("/api/v1/me", headers=self.auth)

    @task(2)
    def draw(self) -> None:
        if self.auth:
            self._post(
                f"/api/v1/lotteries/{SEED['lottery_id']}/draws",
                name="/api/v1/lotteries/{id}/draws",
                ok={201},
                fine={"points.insufficient", "lottery.daily_limit", "rate.limited"},
            )

    @task(1)
    def claim(self) -> None:
        if self.auth:
            self._post(
                f"/api/v1/coupons/{SEED['template_id']}/claims",
                name="/api/v1/coupons/{id}/claims",
                ok={201},
                fine={"coupon.out_of_stock", "coupon.limit_reached"},
            )

    @task(2)
    def ping(self) -> None:
        if self.auth:
            self.client.get("/api/v1/ping", headers=self.auth, name="/api/v1/ping (no-op)")

    def _post(self, path: str, ok: set[int], fine: set[str], name: str | None = None) -> None:
        headers = {**self.auth, "Idempotency-Key": secrets.token_hex(8)}
        with self.client.post(
            path, headers=headers, name=name or path, catch_response=True
        ) as response:
            if response.status_code in ok:
                response.success()
                return
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = None
            if code in fine:
                response.success()  # a business refusal is a correct answer
            else:
                response.failure(f"{response.status_code} {code}")


class Clerk(HttpUser):
    """A till: the shopper shows the code, the clerk scans it and rings up the purchase."""

    weight = 1
    wait_time = between(2.0, 5.0)

    def on_start(self) -> None:
        with _lock:
            n = next(_clerks) % CLERKS
        self.auth = {"Authorization": "Bearer " + SEED["clerk_tokens"][n]}
        self.client.headers["X-Forwarded-For"] = _fake_address()

    @task
    def ring_up(self) -> None:
        member_token = random.choice(SEED["member_tokens"])
        code = self.client.get(
            "/api/v1/me/member-code",
            headers={"Authorization": "Bearer " + member_token},
        )
        if code.status_code != 200:
            return
        scan = self.client.post(
            "/staff/v1/scans", json={"member_code": code.json()["code"]}, headers=self.auth
        )
        if scan.status_code != 201:
            return
        with _lock:
            order = next(_orders)
        self.client.post(
            "/staff/v1/purchases",
            json={
                "scan_id": scan.json()["scan_id"],
                "order_no": f"M-{order}",
                "amount_fen": random.randint(500, 30_000),
            },
            headers={**self.auth, "Idempotency-Key": secrets.token_hex(8)},
        )


def seed(app) -> dict:
    """Members with points (some will draw), clerks, a lottery, a coupon with limited stock."""
    from app import clock
    from app.auth import issue_member_token, issue_staff_token
    from app.extensions import db
    from app.models import Member, Staff, Store
    from app.models.coupons import CouponTemplate
    from app.models.lottery import Lottery, LotteryPrize
    from app.services import ledger
    from app.wechat.sandbox import openid_for

    with app.app_context():
        store = Store(code="S001", name="Morning store", address="")
        db.session.add(store)
        db.session.flush()
        clerks = [
            Staff(username=f"clerk{i}", password_hash="x", role="clerk", store_id=store.id)
            for i in range(CLERKS)
        ]
        db.session.add_all(clerks)
        rows = [
            {
                "member_no": f"7{i:011d}",
                "openid": openid_for(f"shopper{i + 1}"),
                "referral_code": f"L{i:07d}",
                "nickname": "",
                "avatar_url": "",
                "gender": 0,
                "tier_code": "",
                "points_balance": 0,
                "store_id": store.id,
            }
            for i in range(MEMBERS)
        ]
        db.session.execute(Member.__table__.insert(), rows)
        db.session.flush()
        ids = list(db.session.scalars(text("SELECT id FROM members ORDER BY id")))
        for member_id in ids:
            ledger.earn(db.session, member_id, 100, reason="adjustment", ref=f"seed:{member_id}")
        now = clock.now()
        template = CouponTemplate(
            name="早鸟满50减10",
            kind="threshold_off",
            amount_off_fen=1000,
            threshold_fen=5000,
            validity_mode="relative",
            valid_days=7,
            stock_total=COUPON_STOCK,
            limit_per_member=1,
            audience="all",
            audience_tiers=[],
            claimable=True,
        )
        db.session.add(template)
        lottery = Lottery(
            name="早安转盘",
            cost_points=10,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
            daily_draw_limit=5,
        )
        db.session.add(lottery)
        db.session.flush()
        db.session.add_all(
            [
                LotteryPrize(lottery_id=lottery.id, name="谢谢参与", kind="none", weight=60),
                LotteryPrize(
                    lottery_id=lottery.id, name="20积分", kind="points", weight=30, points=20
                ),
                LotteryPrize(
                    lottery_id=lottery.id,
                    name="优惠券",
                    kind="coupon",
                    weight=10,
                    coupon_template_id=template.id,
                    stock_total=100,
                ),
            ]
        )
        db.session.commit()
        return {
            "lottery_id": lottery.id,
            "template_id": template.id,
            "member_tokens": [issue_member_token(i)[0] for i in ids],
            "clerk_tokens": [issue_staff_token(c.id)[0] for c in clerks],
        }


INVARIANTS = {
    "balance = sum of entries": """
        SELECT count(*) FROM members m
        WHERE m.points_balance <> COALESCE(
            (SELECT sum(delta) FROM point_entries e WHERE e.member_id = m.id), 0)""",
    "remaining lots = balance (or 0 if negative)": """
        SELECT count(*) FROM members m
        WHERE GREATEST(m.points_balance, 0) <> COALESCE(
            (SELECT sum(remaining) FROM point_lots l WHERE l.member_id = m.id), 0)""",
    "last entry's balance_after = balance": """
        SELECT count(*) FROM members m
        JOIN LATERAL (SELECT balance_after FROM point_entries e WHERE e.member_id = m.id
                      ORDER BY e.id DESC LIMIT 1) last ON true
        WHERE last.balance_after <> m.points_balance""",
    "coupons issued = coupons held, within stock": """
        SELECT count(*) FROM coupon_templates t
        JOIN LATERAL (SELECT sum(issued) AS issued, sum(stock) AS stock
                      FROM coupon_stock_shards s WHERE s.template_id = t.id) shards ON true
        WHERE shards.issued <> (SELECT count(*) FROM coupons c WHERE c.template_id = t.id)
           OR shards.stock <> t.stock_total""",
    "prizes won = draws that won them, within stock": """
        SELECT count(*) FROM lottery_prizes p
        WHERE p.won <> (SELECT count(*) FROM lottery_draws d WHERE d.prize_id = p.id)
           OR (p.stock_total > 0 AND p.won > p.stock_total)""",
}


def check_invariants(app) -> list[str]:
    from app.extensions import db

    broken = []
    with app.app_context():
        for name, sql in INVARIANTS.items():
            bad = db.session.execute(text(sql)).scalar()
            print(f"  {'ok ' if bad == 0 else 'BAD'} {name}" + (f": {bad} rows" if bad else ""))
            if bad:
                broken.append(name)
        totals = db.session.execute(
            text(
                "SELECT (SELECT count(*) FROM members), (SELECT count(*) FROM point_entries),"
                " (SELECT count(*) FROM purchases), (SELECT count(*) FROM checkins),"
                " (SELECT count(*) FROM lottery_draws), (SELECT count(*) FROM coupons)"
            )
        ).one()
        labels = ("members", "ledger entries", "purchases", "check-ins", "draws", "coupons")
        print("  " + ", ".join(f"{label} {n}" for label, n in zip(labels, totals, strict=True)))
    return broken


def print_stats(env: Environment, seconds: float) -> None:
    rows = sorted(env.stats.entries.values(), key=lambda s: (s.method, s.name))
    header = ["endpoint", "requests", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms"]
    table = [header]
    for s in rows:
        table.append(
            [
                f"{s.method} {s.name}",
                str(s.num_requests),
                str(s.num_failures),
                f"{s.num_requests / seconds:,.1f}",
                f"{s.get_response_time_percentile(0.50):.0f}",
                f"{s.get_response_time_percentile(0.95):.0f}",
                f"{s.get_response_time_percentile(0.99):.0f}",
            ]
        )
    total = env.stats.total
    table.append(
        [
            "all",
            str(total.num_requests),
            str(total.num_failures),
            f"{total.num_requests / seconds:,.1f}",
            f"{total.get_response_time_percentile(0.50):.0f}",
            f"{total.get_response_time_percentile(0.95):.0f}",
            f"{total.get_response_time_percentile(0.99):.0f}",
        ]
    )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    errors = list(env.stats.errors.values())
    for error in sorted(errors, key=lambda e: -e.occurrences)[:8]:
        print(f"  failure x{error.occurrences}: {error.method} {error.name}: {error.error}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--spawn-rate", type=float, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    prefix = f"hyl-{secrets.token_hex(3)}:"
    with fresh_database() as db_url:
        app = app_for(db_url, prefix)
        SEED.update(seed(app))
        # The WeChat sandbox runs as its own small server, like the real WeChat API would: the
        # app's sign-ins must not wait on threads of the server being measured.
        with (
            gunicorn_server(db_url, prefix, workers=1, threads=16) as wechat,
            gunicorn_server(
                db_url,
                prefix,
                workers=args.workers,
                threads=args.threads,
                WECHAT_API_BASE=wechat + "/_sandbox/wechat",
                PROXY_HOPS="1",
            ) as base,
        ):
            env = Environment(user_classes=[Shopper, Clerk], host=base, events=locust.events)
            runner = env.create_local_runner()
            runner.start(args.users, spawn_rate=args.spawn_rate)
            gevent.sleep(args.seconds)
            runner.quit()
            runner.greenlet.join()
        print(
            f"\nmorning mix: {args.users} users (9 shoppers : 1 till), {args.seconds} s, "
            f"gunicorn {args.workers} workers x {args.threads} threads, PostgreSQL + Redis, "
            f"locust {locust.__version__}"
        )
        print_stats(env, args.seconds)
        ping = env.stats.get("/api/v1/ping (no-op)", "GET")
        if ping.num_requests:
            print(f"  no-op p50 {ping.get_response_time_percentile(0.5):.0f} ms on the same server")
        print("\ninvariants over the whole database:")
        broken = check_invariants(app)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
