"""The dispatcher: sends queued messages exactly once, within WeChat's rules and our own.

A worker claims a batch of due messages in one statement (nothing sent yet: a crash here puts
them back in the queue after the lease), then delivers them a chunk of `in_flight` at a time:
the chunk moves to `sending` (channel chosen, quota and marketing cap taken) in one commit, its
sends go out together over the worker's kept-alive connections, and their outcomes are recorded
in one more commit. A crash between `sending` and the outcome is the only unclear moment, for at
most the chunk: an official-account message is sent again with the same `client_msg_id`, which
WeChat ignores within 10 minutes; a subscribe message has no such key, so it is recorded as
`uncertain` and never resent (WeChat's advice: do not blindly resend). A bigger chunk is more
messages a second and more of them uncertain after a crash: DISPATCH_IN_FLIGHT chooses.
"""

from __future__ import annotations

import contextvars
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import clock
from app.metrics import count_delivery
from app.models.messaging import OutboxMessage
from app.services.messaging import outbox
from app.services.messaging.send_outcomes import DAILY_QUOTA_PAUSE, Prepared
from app.services.messaging.send_outcomes import record as _record
from app.services.messaging.send_outcomes import record_sent as _record_sent
from app.services.messaging.send_prepare import OA_RESEND_WINDOW, member_values, prepare_chunk
from app.wechat import client as wechat

__all__ = ["OA_RESEND_WINDOW", "member_values"]  # member_values: the console's template preview
log = logging.getLogger("huiyuan.dispatch")
STALE_AFTER = timedelta(minutes=2)  # a delivery never takes this long (WeChat timeout: 5 s)
# Sends in flight per worker unless the caller asks for more (the jobs: DISPATCH_IN_FLIGHT).
IN_FLIGHT = 1
_M = OutboxMessage.__table__


class DailyQuotaReached(Exception):
    """WeChat's 45009: stop sending for now (and alert)."""


def checkpoint(name: str, message_id: int | None = None) -> None:
    """A named point in a delivery; tests make it raise to simulate a crash exactly there."""


def claim_batch(session: Session, now: datetime, worker: str, limit: int = 100) -> list[int]:
    """Take up to `limit` due messages for this worker (none during quiet hours), in one
    statement."""
    cfg = outbox.settings(session)
    if outbox.quiet_until(now, cfg):
        return []
    # MATERIALIZED: the locking sub-select runs once. Written as `WHERE id IN (SELECT ... LIMIT n
    # FOR UPDATE SKIP LOCKED)`, PostgreSQL may evaluate it more than once and claim far more than
    # `limit` rows, so one dispatcher took the whole queue and the others found nothing.
    due = (
        select(_M.c.id)
        .where(_M.c.state == "pending", _M.c.not_before <= now)
        .order_by(_M.c.not_before, _M.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
        .prefix_with("MATERIALIZED")
    )
    ids = (
        session.execute(
            update(_M)
            .where(_M.c.id == due.c.id, _M.c.state == "pending")
            .values(state="claimed", claimed_by=worker, claimed_at=now)
            .returning(_M.c.id)
        )
        .scalars()
        .all()
    )
    session.commit()
    if not ids:
        return []
    checkpoint("claimed")
    return sorted(ids)


def _send(prepared: Prepared) -> dict:
    if prepared.channel == "subscribe":
        return wechat.send_subscribe_message(
            prepared.touser, prepared.template_id, prepared.data, page=prepared.page or None
        )
    miniprogram = None
    if prepared.page:
        miniprogram = {"appid": wechat.miniapp_appid(), "pagepath": prepared.page}
    return wechat.send_template_message(
        prepared.touser,
        prepared.template_id,
        prepared.data,
        client_msg_id=f"hy-{prepared.id}",
        miniprogram=miniprogram,
    )


def _send_one(prepared: Prepared) -> tuple[dict | None, Exception | None]:
    try:
        return _send(prepared), None
    except (wechat.WeChatAPIError, wechat.WeChatUnavailable) as exc:
        return None, exc


def _send_all(prepared: list[Prepared], pool: ThreadPoolExecutor | None) -> list[tuple]:
    """Every send of the chunk, at once when the worker has a pool; (result, error) each."""
    if pool is None or len(prepared) == 1:
        return [_send_one(p) for p in prepared]
    # Each send runs in a copy of this context (the app's, for the WeChat client and its token).
    futures = [pool.submit(contextvars.copy_context().run, _send_one, p) for p in prepared]
    return [f.result() for f in futures]


def _release(session: Session, ids: list[int], worker: str) -> None:
    if ids:
        session.execute(
            update(_M)
            .where(_M.c.id.in_(ids), _M.c.state == "claimed", _M.c.claimed_by == worker)
            .values(state="pending")
        )
        session.commit()


def deliver_chunk(
    session: Session,
    ids: list[int],
    worker: str,
    now: datetime,
    *,
    bucket=None,
    cache: dict | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> dict[int, str]:
    """Deliver claimed messages together; the outcome of each (sent, failed, skipped, retry...).
    Raises DailyQuotaReached after recording the chunk if WeChat said its quota is used up."""
    cfg = outbox.settings(session)
    if bucket is not None and not bucket.take(len(ids)):
        _release(session, ids, worker)
        return dict.fromkeys(ids, "rate_limited")
    held = outbox.quiet_until(now, cfg)
    if held:
        session.execute(
            update(_M)
            .where(_M.c.id.in_(ids), _M.c.state == "claimed", _M.c.claimed_by == worker)
            .values(state="pending", not_before=held)
        )
        session.commit()
        return dict.fromkeys(ids, "held")
    prepared, outcomes = prepare_chunk(
        session, ids, worker, now, cfg, {} if cache is None else cache
    )
    session.commit()  # waits for the disk: this commit is what keeps a send from going twice
    if not prepared:
        return outcomes
    for p in prepared:
        checkpoint("sending", p.id)
    answers = _send_all(prepared, pool)
    for p in prepared:
        checkpoint("sent", p.id)
    plain = [
        (p, result)
        for p, (result, error) in zip(prepared, answers, strict=True)
        if error is None and not p.coupon_template_id
    ]
    outcomes.update(_record_sent(session, plain, worker, now))
    quota_used_up = None
    for p, (result, error) in zip(prepared, answers, strict=True):
        if p.id not in outcomes:
            outcomes[p.id] = _record(session, p, worker, result, error, now, cfg)
        if error is not None and getattr(error, "errcode", None) == 45009:
            quota_used_up = error
    session.commit()
    for p in prepared:
        count_delivery(p.channel, p.purpose, outcomes[p.id])
    if quota_used_up is not None:
        raise DailyQuotaReached(str(quota_used_up))
    return outcomes


def deliver(session, message_id, worker, now=None, bucket=None, cache=None) -> str:
    """Deliver one claimed message; returns its outcome (sent, failed, skipped, retry, ...)."""
    outcomes = deliver_chunk(
        session, [message_id], worker, now or clock.now(), bucket=bucket, cache=cache
    )
    return outcomes[message_id]


def recover_stale(session: Session, now: datetime, stale_after: timedelta = STALE_AFTER) -> dict:
    """Take back messages a crashed dispatcher left behind, without sending anything twice."""
    cutoff = now - stale_after
    requeued = session.execute(
        update(_M)
        .where(_M.c.state == "claimed", _M.c.claimed_at < cutoff)
        .values(state="pending")
        .returning(_M.c.id)
    ).all()
    oa_again = session.execute(
        update(_M)
        .where(
            _M.c.state == "sending",
            _M.c.claimed_at < cutoff,
            _M.c.channel == "oa",
            _M.c.first_oa_attempt_at >= now - OA_RESEND_WINDOW,
        )
        .values(state="pending", reason="recovered", not_before=now)
        .returning(_M.c.id)
    ).all()
    unclear = session.execute(
        update(_M)
        .where(_M.c.state == "sending", _M.c.claimed_at < cutoff)
        .values(state="uncertain", reason="crashed_mid_send", finished_at=now)
        .returning(_M.c.id)
    ).all()
    session.commit()
    return {"requeued": len(requeued) + len(oa_again), "uncertain": len(unclear)}


def dispatch_due(
    session: Session,
    worker: str,
    now_fn=clock.now,
    bucket=None,
    batch: int = 100,
    max_messages: int | None = None,
    budget_seconds: float | None = None,
    in_flight: int = IN_FLIGHT,
) -> dict:
    """Claim and deliver due messages until none are left (or the budget is spent), with up to
    `in_flight` sends at once (over this worker's own threads and kept-alive connections)."""

    counts: dict[str, int] = {}
    started = time.monotonic()
    cache: dict = {}
    done = 0
    chunk = max(1, int(in_flight))
    if bucket is not None:
        chunk = min(chunk, max(1, int(bucket.burst)))  # a chunk takes its tokens at once
    pool = ThreadPoolExecutor(chunk, thread_name_prefix=f"send-{worker}") if chunk > 1 else None
    try:
        while True:
            if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                break
            if bucket is not None and bucket.paused():
                counts["paused"] = 1
                break
            ids = claim_batch(session, now_fn(), worker, batch)
            if not ids:
                break
            for start in range(0, len(ids), chunk):
                part = ids[start : start + chunk]
                try:
                    outcomes = deliver_chunk(
                        session, part, worker, now_fn(), bucket=bucket, cache=cache, pool=pool
                    )
                except DailyQuotaReached:
                    log.error("WeChat daily quota reached (45009): sending paused for an hour")
                    if bucket is not None:
                        bucket.pause(DAILY_QUOTA_PAUSE.total_seconds())
                    _release(session, ids[start + chunk :], worker)
                    counts["paused_daily_quota"] = 1
                    return counts
                for outcome in outcomes.values():
                    counts[outcome] = counts.get(outcome, 0) + 1
                done += len(part)
            if max_messages is not None and done >= max_messages:
                break
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return counts
