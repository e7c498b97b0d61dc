"""Messaging jobs: the daily reminders and wake-ups, and the minutely dispatch of the outbox."""

from __future__ import annotations

import os
import secrets
import threading
from datetime import datetime

from flask import current_app

from app.extensions import db, get_redis, rkey
from app.services.members import oa_followers
from app.services.messaging import campaigns, dispatch, outbox, reminders
from app.services.messaging.send_rate import TokenBucket
from app.wechat import client as wechat

DISPATCH_BUDGET_SECONDS = 50  # leave the minute before the next run
FOLLOWERS_TO_LINK = 100


def points_expiry_reminder_job(now: datetime) -> dict:
    return reminders.points_expiry_reminder(db.session, now)


def dormant_wakeup_job(now: datetime) -> dict:
    return reminders.dormant_wakeup(db.session, now)


def send_bucket(session) -> TokenBucket:
    """The one send rate of the deployment (a messaging setting), shared through Redis."""
    cfg = outbox.settings(session)
    return TokenBucket(
        get_redis(),
        rkey("messaging", "send_bucket"),
        cfg["send_rate_per_second"],
        cfg["send_burst"],
    )


def run_dispatchers(
    now_fn,
    workers: int = 2,
    budget_seconds: float | None = DISPATCH_BUDGET_SECONDS,
    batch: int = 50,
) -> dict:
    """Deliver due messages from `workers` threads (each its own session), under the shared rate."""
    app = current_app._get_current_object()
    in_flight = int(app.config.get("DISPATCH_IN_FLIGHT", 8))
    totals: dict[str, int] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        with app.app_context():
            worker = f"{os.getpid()}-{n}-{secrets.token_hex(3)}"
            try:
                counts = dispatch.dispatch_due(
                    db.session,
                    worker,
                    now_fn=now_fn,
                    bucket=send_bucket(db.session),
                    batch=batch,
                    budget_seconds=budget_seconds,
                    in_flight=in_flight,
                )
            except BaseException as exc:  # noqa: BLE001 - reported by the caller
                errors.append(exc)
                return
            finally:
                db.session.remove()
            with lock:
                for key, value in counts.items():
                    totals[key] = totals.get(key, 0) + value

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return totals


def link_followers(session, limit: int = FOLLOWERS_TO_LINK) -> int:
    """Fetch unionids the callback could not get in time (WeChat was slow)."""
    linked = 0
    for openid in oa_followers.missing_unionid(session, limit):
        try:
            info = wechat.oa_user_info(openid)
        except (wechat.WeChatAPIError, wechat.WeChatUnavailable):
            break
        oa_followers.set_unionid(session, openid, info.get("unionid"))
        linked += 1
    return linked


def messages_dispatch_job(now: datetime) -> dict:
    counts = campaigns.enqueue_due(db.session, now)
    counts.update(dispatch.recover_stale(db.session, now))
    counts["followers_linked"] = link_followers(db.session)
    workers = int(current_app.config.get("DISPATCH_WORKERS", 2))
    # Lazy: jobs.queue imports this module (its tasks call send_bucket), a real cycle.
    from jobs import queue

    if queue.dispatch_via_queue():
        # Several worker processes (`flask jobs worker`) share the sending: see jobs/queue.py.
        counts.update(queue.enqueue_dispatch(workers))
        return counts
    counts.update(run_dispatchers(lambda: now, workers=workers))
    return counts
