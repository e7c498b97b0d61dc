"""Messaging at scale: queue a campaign to 1,000,000 members (set-based INSERT ... SELECT), then
dispatch 100,000 of its messages to the sandbox WeChat (served by gunicorn) with the send rate
set high, beside a plain HTTP client loop sending the same API calls to the same sandbox.

    .venv/bin/python bench/dispatch.py [--members 1000000] [--dispatch 100000]
        [--procs 2] [--threads 2] [--in-flight 4] [--plain 20000]

Every dispatched message goes through the outbox (claimed in batches, moved to `sending` and
recorded a chunk of --in-flight at a time), the channel choice (subscribe quota), the marketing
cap and the Redis token bucket. The plain loop runs at the dispatcher's total concurrency
(procs x threads x in-flight sends at once). Each dispatcher process reports the SQL statements,
commits and its own CPU (Python, client side) per message.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import requests
from harness import ROOT, app_for, drive, fresh_database, gunicorn_server, print_table

SEND_AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 Beijing: outside quiet hours
TEMPLATE = {
    "subscribe": {
        "template_id": "tmpl-bench",
        "data": {"thing1": "{nickname}，周末积分加倍", "number2": "{balance}"},
    }
}


def seed(app, members: int) -> None:
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO members (member_no, openid, referral_code, nickname, avatar_url,"
                " gender, tier_code, points_balance, joined_at, updated_at)"
                " SELECT 'B' || lpad(g::text, 11, '0'), 'bench-' || g, 'R' || g, '会员' || g,"
                " '', 0, '', g % 5000, now(), now() FROM generate_series(1, :n) g"
            ),
            {"n": members},
        )
        db.session.execute(
            text(
                "INSERT INTO subscription_quotas (member_id, template_id, available,"
                " accepted_total, updated_at) SELECT id, 'tmpl-bench', 1, 1, now() FROM members"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO program_configs (name, config, updated_at) VALUES ('messaging',"
                ' \'{"send_rate_per_second": 100000, "send_burst": 1000}\', now())'
            )
        )
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def enqueue_campaign(app) -> tuple[float, dict]:
    from app.extensions import db
    from app.models import Staff
    from app.services.messaging import campaigns

    with app.app_context():
        staff = Staff(username="bench", password_hash="x", role="marketer")
        db.session.add(staff)
        db.session.commit()
        campaign = campaigns.create(
            db.session,
            {"name": "bench", "template": TEMPLATE, "send_at": SEND_AT, "holdout_share": 0.1},
            staff,
        )
        started = time.perf_counter()
        counts = campaigns.enqueue(db.session, campaign, SEND_AT)
        db.session.commit()
        return time.perf_counter() - started, counts


def child(args) -> None:
    """One dispatcher process: `threads` workers sending up to `count` messages together."""
    app = app_for(args.db, args.prefix)
    app.config["WECHAT_API_BASE"] = args.api
    from sqlalchemy import event

    from app import clock
    from app.extensions import db
    from app.services.messaging import dispatch
    from jobs.messaging import send_bucket

    clock.freeze(SEND_AT)
    per_thread = args.count // args.threads
    tally = {"statements": 0, "commits": 0, "messages": 0}
    lock = threading.Lock()
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_a, **_k):
        with lock:
            tally["statements"] += 1

    @event.listens_for(engine, "commit")
    def _commit(*_a, **_k):
        with lock:
            tally["commits"] += 1

    def work(n: int) -> None:
        with app.app_context():
            counts = dispatch.dispatch_due(
                db.session,
                f"bench-{os.getpid()}-{n}",
                now_fn=lambda: SEND_AT,
                bucket=send_bucket(db.session),
                batch=args.batch,
                max_messages=per_thread,
                in_flight=args.in_flight,
            )
            db.session.remove()
            with lock:
                tally["messages"] += sum(counts.values())

    threads = [threading.Thread(target=work, args=(n,)) for n in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    tally["cpu_s"] = usage.ru_utime + usage.ru_stime
    print("TALLY " + json.dumps(tally), flush=True)


def outcomes(app) -> dict:
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        rows = db.session.execute(
            text("SELECT state, count(*) FROM message_outbox GROUP BY state")
        ).all()
        return {state: n for state, n in rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--dispatch", type=int, default=100_000)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="dispatch workers a process")
    parser.add_argument("--in-flight", type=int, default=4, help="sends at once per worker")
    parser.add_argument("--batch", type=int, default=50, help="messages claimed at once")
    parser.add_argument("--plain", type=int, default=20_000, help="plain-loop requests")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--db")
    parser.add_argument("--prefix")
    parser.add_argument("--api")
    parser.add_argument("--count", type=int)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    prefix = f"hyb-{secrets.token_hex(3)}:"
    with fresh_database() as db_url:
        app = app_for(db_url, prefix)
        started = time.perf_counter()
        seed(app, args.members)
        print(
            f"seeded {args.members:,} members with quotas in {time.perf_counter() - started:.1f} s"
        )
        took, counts = enqueue_campaign(app)
        queued = outcomes(app).get("pending", 0)
        print(
            f"enqueue: {counts['targeted']:,} targeted, {counts['held_out']:,} held out, "
            f"{queued:,} messages queued in {took:.1f} s "
            f"({counts['targeted'] / took:,.0f} members/s)"
        )
        with gunicorn_server(db_url, prefix, workers=4, threads=8) as base:
            api = base + "/_sandbox/wechat"
            per_proc = args.dispatch // args.procs
            started = time.perf_counter()
            procs = [
                subprocess.Popen(
                    [
                        sys.executable,
                        str(ROOT / "bench" / "dispatch.py"),
                        "--child",
                        "--db",
                        db_url,
                        "--prefix",
                        prefix,
                        "--api",
                        api,
                        "--count",
                        str(per_proc),
                        "--threads",
                        str(args.threads),
                        "--in-flight",
                        str(args.in_flight),
                        "--batch",
                        str(args.batch),
                    ],
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(args.procs)
            ]
            tallies = [json.loads(p.communicate()[0].split("TALLY ", 1)[1]) for p in procs]
            elapsed = time.perf_counter() - started
            states = outcomes(app)
            sent = states.get("sent", 0)
            print(
                f"dispatch: {sent:,} sent in {elapsed:.1f} s = {sent / elapsed:,.0f} messages/s "
                f"({args.procs} processes x {args.threads} workers x {args.in_flight} in flight); "
                f"states {states}"
            )
            n = sum(t["messages"] for t in tallies) or 1
            print(
                f"per message: {sum(t['statements'] for t in tallies) / n:.2f} statements, "
                f"{sum(t['commits'] for t in tallies) / n:.2f} commits, "
                f"{sum(t['cpu_s'] for t in tallies) / n * 1000:.2f} ms CPU of the dispatcher "
                "processes (Python, HTTP client included)"
            )
            token = requests.post(
                api + "/cgi-bin/stable_token",
                json={
                    "grant_type": "client_credential",
                    "appid": "wx_sandbox_miniapp",
                    "secret": "sandbox-miniapp-secret",
                },
                timeout=5,
            ).json()["access_token"]
            url = api + "/cgi-bin/message/subscribe/send?access_token=" + token
            body = {"template_id": "tmpl-bench", "data": {"thing1": {"value": "x"}}}
            plain = drive(
                "plain HTTP loop: subscribe/send",
                lambda i, s: s.post(url, json={**body, "touser": f"plain-{i}"}, timeout=10),
                args.plain,
                args.procs * args.threads * args.in_flight,
            )
            print_table([plain], "the same sandbox, the same concurrency, no outbox")
            print(f"dispatcher / plain loop throughput: {sent / elapsed / plain.throughput:.2f}")
        from app.extensions import get_redis

        with app.app_context():
            client = get_redis()
            keys = list(client.scan_iter(match=prefix + "*", count=10_000))
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start : start + 1000])


if __name__ == "__main__":
    main()
