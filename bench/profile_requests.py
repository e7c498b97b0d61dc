"""cProfile the app's request path (WSGI app through the Flask test client, real PostgreSQL and
Redis): GET /api/v1/ping, GET /api/v1/me and POST /api/v1/checkins, each in a loop.

    .venv/bin/python bench/profile_requests.py [--requests 2000] [--sandbox 0|1] [--top 40]
                                               [--only me|checkin|ping]

Prints per endpoint the CPU per request (process time) and the statements per request, then the
profile's top functions by own time and by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import time

from harness import app_for, fresh_database, insert_members
from sqlalchemy import event


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--sandbox", type=int, default=0)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--only", default="")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--no-profile", action="store_true", help="time only")
    args = parser.parse_args()
    prefix = f"hyp-{secrets.token_hex(3)}:"
    with fresh_database() as db_url:
        app = app_for(db_url, prefix)
        with app.app_context():
            from app.auth import issue_member_token
            from app.extensions import db

            ids = insert_members(args.requests)
            db.session.commit()
            tokens = [issue_member_token(i)[0] for i in ids]
            engine = db.engine
        if not args.sandbox:
            os.environ.update(
                SANDBOX="0",
                WECHAT_MINIAPP_APPID="wx_bench",
                WECHAT_MINIAPP_SECRET="bench",
                DATA_ENCRYPTION_KEY="YmVuY2gta2V5LW5vdC1mb3ItcHJvZHVjdGlvbi0wMDA=",
            )
            from app import create_app

            app = create_app({"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 5}})
            with app.app_context():
                engine = db.engine
        print(f"SANDBOX={app.config['SANDBOX']}")
        statements = [0]

        @event.listens_for(engine, "before_cursor_execute")
        def _count(*_a, **_k):
            statements[0] += 1

        client = app.test_client()
        auth = [{"Authorization": f"Bearer {t}"} for t in tokens]
        paths = {
            "ping": lambda i: client.get("/api/v1/ping", headers=auth[i]),
            "me": lambda i: client.get("/api/v1/me", headers=auth[i]),
            "checkin": lambda i: client.post("/api/v1/checkins", headers=auth[i]),
        }
        for name, send in paths.items():
            if args.only and name != args.only:
                continue
            for i in range(50):  # warm up (imports, caches, pool)
                send(i)
            statements[0] = 0
            profile = cProfile.Profile(time.process_time)  # CPU, not waits
            cpu, wall = time.process_time(), time.perf_counter()
            if not args.no_profile:
                profile.enable()
            for i in range(50, args.requests):
                answer = send(i)
                assert answer.status_code in (200, 201), (name, answer.status_code, answer.json)
            profile.disable()
            n = args.requests - 50
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(
                f"\n=== {name}: {cpu / n * 1000:.2f} ms CPU, {wall / n * 1000:.2f} ms wall,"
                f" {statements[0] / n:.2f} statements per request "
            )
            if not args.no_profile:
                pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
