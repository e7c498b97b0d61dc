"""The nightly member jobs at scale: the points-expiry reminder and the dormant wake-up (with a
wake-up coupon), each run in a subprocess of its own, its time and peak memory (VmHWM) measured,
at two sizes. Flat memory means the peak does not grow with the members.

    .venv/bin/python bench/reminders.py [--sizes 50000 200000]

Members are generated set-based (generate_series): every member has one lot of points, a share
of them expiring within the reminder's horizon (5 in 14), and a third of them asleep
(member_segments). The coupon has stock for half the sleepers, so the bulk push also runs out.
The reference is one plain statement over the same rows: `SELECT count(*)` of the candidates.
"""

from __future__ import annotations

import argparse
import json
import resource
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime

from harness import ROOT, app_for, fresh_database

NOW = datetime(2026, 12, 25, 2, 0, tzinfo=UTC)  # 10:00 Beijing


def seed(app, members: int) -> None:
    from sqlalchemy import text

    from app.extensions import db
    from app.models import Staff
    from app.models.coupons import CouponTemplate
    from app.services import programs

    with app.app_context():
        statements = [
            "INSERT INTO members (member_no, openid, referral_code, nickname, avatar_url, gender,"
            " tier_code, points_balance, joined_at, updated_at)"
            " SELECT 'R' || lpad(g::text, 11, '0'), 'rem-' || g, 'RR' || g, '会员' || g, '', 0,"
            " '', 100, now(), now() FROM generate_series(1, :n) g",
            "INSERT INTO point_entries (member_id, delta, reason, ref, balance_after, expires_on,"
            " note, created_at) SELECT id, 100, 'adjustment', 'seed:' || id, 100,"
            " DATE '2026-12-28' + (id % 14)::int, '', now() FROM members",
            "INSERT INTO point_lots (member_id, earned, remaining, expires_on)"
            " SELECT member_id, 100, 100, expires_on FROM point_entries",
            "INSERT INTO member_segments (member_id, lifecycle_stage, stage_since, frequency,"
            " monetary_fen, computed_at) SELECT id, CASE WHEN id % 3 = 0 THEN 'sleeping'"
            " ELSE 'active' END, DATE '2026-11-30', 0, 0, now() FROM members",
        ]
        for sql in statements:
            db.session.execute(text(sql), {"n": members})
        template = CouponTemplate(
            name="回来看看",
            kind="amount_off",
            amount_off_fen=500,
            validity_mode="relative",
            valid_days=14,
            stock_total=members // 6,
            claimable=False,
        )
        admin = Staff(username="bench-admin", password_hash="x", role="admin")
        db.session.add_all([template, admin])
        db.session.commit()
        programs.put_config(
            db.session, "messaging", {"wakeup_coupon_template_id": template.id}, staff=admin
        )
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args) -> None:
    app = app_for(args.db, args.prefix)
    from sqlalchemy import text

    from app import clock
    from app.extensions import db
    from app.services.messaging import reminders

    clock.freeze(NOW)
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        before = peak_rss_mb()
        started = time.perf_counter()
        if args.job == "reference":
            counts = {
                "lots": db.session.execute(
                    text(
                        "SELECT count(DISTINCT member_id) FROM point_lots WHERE remaining > 0"
                        " AND expires_on BETWEEN DATE '2026-12-25' AND DATE '2027-01-01'"
                    )
                ).scalar(),
                "sleeping": db.session.execute(
                    text("SELECT count(*) FROM member_segments WHERE lifecycle_stage = 'sleeping'")
                ).scalar(),
            }
        elif args.job == "reminder":
            counts = reminders.points_expiry_reminder(db.session, NOW)
        else:
            counts = reminders.dormant_wakeup(db.session, NOW)
        took = time.perf_counter() - started
    result = {"seconds": took, "rss_before_mb": before, "peak_mb": peak_rss_mb(), **counts}
    print("RESULT " + json.dumps(result), flush=True)


def run_child(db_url: str, prefix: str, job: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "reminders.py"), "--child", job]
        + ["--db", db_url, "--prefix", prefix],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.split("RESULT ", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000])
    parser.add_argument("--child")
    parser.add_argument("--db")
    parser.add_argument("--prefix")
    args = parser.parse_args()
    if args.child:
        args.job = args.child
        child(args)
        return
    rows = []
    for size in args.sizes:
        prefix = f"hyb-{secrets.token_hex(3)}:"
        with fresh_database() as db_url:
            app = app_for(db_url, prefix)
            started = time.perf_counter()
            seed(app, size)
            print(f"seeded {size:,} members in {time.perf_counter() - started:.1f} s", flush=True)
            for job in ("reference", "reminder", "wakeup"):
                r = run_child(db_url, prefix, job)
                counts = {
                    k: v for k, v in r.items() if k not in ("seconds", "rss_before_mb", "peak_mb")
                }
                rows.append((size, job, r["seconds"], r["rss_before_mb"], r["peak_mb"], counts))
                print(
                    f"{size:>9,}  {job:<9}  {r['seconds']:7.2f} s  rss after import "
                    f"{r['rss_before_mb']:6.1f} MB  peak {r['peak_mb']:6.1f} MB  {counts}",
                    flush=True,
                )
    print()
    print("members    job        seconds  peak MB  peak - import MB")
    for size, job, seconds, before, peak, _ in rows:
        print(f"{size:>9,}  {job:<9}  {seconds:7.2f}  {peak:7.1f}  {peak - before:7.1f}")


if __name__ == "__main__":
    main()
