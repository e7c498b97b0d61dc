"""The dispatcher: sends queued messages exactly once, within WeChat's rules and our own.

Each message goes through three commits: claimed in a batch (nothing sent yet: a crash here puts
it back in the queue), then `sending` with its channel chosen and its quota and marketing cap
taken, then its outcome after WeChat answered. A crash between `sending` and the outcome is the
only unclear moment: an official-account message is sent again with the same `client_msg_id`,
which WeChat ignores within 10 minutes; a subscribe message has no such key, so it is recorded
as `uncertain` and never resent (WeChat's advice: do not blindly resend).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import clock
from app.metrics import count_delivery
from app.models import Member
from app.models.messaging import Campaign, OaFollower, OutboxMessage
from app.services.ledger import expiring_summary
from app.services.messaging import marketing_cap, message_templates, outbox, subscriptions
from app.services.messaging.send_outcomes import DAILY_QUOTA_PAUSE, Prepared
from app.services.messaging.send_outcomes import give_up as _give_up
from app.services.messaging.send_outcomes import record as _record
from app.wechat import client as wechat

log = logging.getLogger("huiyuan.dispatch")
STALE_AFTER = timedelta(minutes=2)  # a delivery never takes this long (WeChat timeout: 5 s)
OA_RESEND_WINDOW = timedelta(minutes=9)  # WeChat ignores a repeated client_msg_id for 10
_M = OutboxMessage.__table__


class DailyQuotaReached(Exception):
    """WeChat's 45009: stop sending for now (and alert)."""


def checkpoint(name: str, message_id: int | None = None) -> None:
    """A named point in a delivery; tests make it raise to simulate a crash exactly there."""


def claim_batch(session: Session, now: datetime, worker: str, limit: int = 100) -> list[int]:
    """Take up to `limit` due messages for this worker (none during quiet hours)."""
    cfg = outbox.settings(session)
    if outbox.quiet_until(now, cfg):
        return []
    due = (
        select(_M.c.id)
        .where(_M.c.state == "pending", _M.c.not_before <= now)
        .order_by(_M.c.not_before, _M.c.id)
        .limit(limit)
    )
    due = due.with_for_update(skip_locked=True)
    # Two statements, not `UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`:
    # PostgreSQL may evaluate that sub-select more than once and claim far more than `limit`
    # rows, so one dispatcher took the whole queue and the others found nothing.
    candidates = session.execute(due).scalars().all()
    if not candidates:
        session.commit()
        return []
    ids = (
        session.execute(
            update(_M)
            .where(_M.c.id.in_(candidates), _M.c.state == "pending")
            .values(state="claimed", claimed_by=worker, claimed_at=now)
            .returning(_M.c.id)
        )
        .scalars()
        .all()
    )
    session.commit()
    checkpoint("claimed")
    return sorted(ids)


def _spec(session: Session, row, cfg: dict, cache: dict) -> tuple[dict, str]:
    """The message's templates and channel preference (a campaign's are read once per run:
    a campaign is not edited once scheduled, and cancelling it cancels its queued rows)."""
    if row.campaign_id is None:
        return cfg["templates"].get(row.purpose) or {}, "auto"
    if row.campaign_id not in cache:
        campaign = session.get(Campaign, row.campaign_id)
        spec = dict(campaign.template or {})
        spec.setdefault("page", campaign.page)
        spec["coupon_template_id"] = campaign.coupon_template_id
        cache[row.campaign_id] = (spec, campaign.channel)
    return cache[row.campaign_id]


def member_values(
    session: Session, member: Member, params: dict | None, now, spec: dict | None = None
) -> dict:
    """What a template can show of a member (nickname, balance, points expiring soonest...).
    The lots are read only when the template (`spec`; None: any) shows expiring points."""

    values = {
        "nickname": member.nickname,
        "balance": member.points_balance,
        "member_no": member.member_no,
        "today": clock.business_date(now),
    }
    params = params or {}
    if "expiring_points" in params:
        values["expiring_points"] = params["expiring_points"]
        values["expires_on"] = datetime.fromisoformat(params["expires_on"]).date()
    elif spec is None or "{expir" in str(spec):
        soon = expiring_summary(session, member.id, clock.business_date(now))
        if soon:
            values["expiring_points"] = soon[0]["points"]
            values["expires_on"] = soon[0]["expires_on"]
    return values


def _follower(session: Session, unionid: str | None) -> OaFollower | None:
    if not unionid:
        return None
    return session.execute(
        select(OaFollower).where(OaFollower.unionid == unionid, OaFollower.following.is_(True))
    ).scalar_one_or_none()


def _prepare(session, message_id, worker, now, cfg, cache) -> Prepared | str:
    """Move a claimed message to `sending`: channel, quota, cap, data. Or its final outcome."""
    found = session.execute(
        select(OutboxMessage, Member)
        .join(Member, Member.id == OutboxMessage.member_id)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.state == "claimed",
            OutboxMessage.claimed_by == worker,
        )
        .with_for_update(of=OutboxMessage.__table__)
    ).first()
    if found is None:
        return "gone"  # cancelled, or taken back by recovery
    row, member = found
    held = outbox.quiet_until(now, cfg)
    if held:
        row.state, row.not_before = "pending", held
        return "held"
    spec, preference = _spec(session, row, cfg, cache)
    if row.marketing and not row.cap_taken:
        if not marketing_cap.take(session, row.member_id, now, cfg):
            row.state, row.reason, row.finished_at = "skipped", "marketing_cap", now
            return "skipped"
        row.cap_taken = True
    channel, touser = row.channel, None
    if channel == "oa":  # an earlier attempt may have reached WeChat: same channel, same key
        follower = _follower(session, member.unionid)
        if follower is None:
            return _give_up(session, row, "skipped", "unfollowed", now)
        if row.reason in ("timeout", "recovered") and now - row.first_oa_attempt_at > (
            OA_RESEND_WINDOW
        ):
            return _give_up(session, row, "uncertain", "oa_resend_window_passed", now)
        touser = follower.openid
    elif (
        preference in ("auto", "subscribe")
        and spec.get("subscribe")
        and member.openid
        and subscriptions.take_one(session, member.id, spec["subscribe"]["template_id"])
    ):
        channel, touser = "subscribe", member.openid
    elif (
        preference in ("auto", "oa")
        and spec.get("oa")
        and (follower := _follower(session, member.unionid)) is not None
    ):
        channel, touser = "oa", follower.openid
    else:
        return _give_up(session, row, "skipped", "no_quota_not_following", now)
    try:
        data = message_templates.fill(
            spec[channel],
            member_values(session, member, row.params, now, spec[channel]),
            official_account=channel == "oa",
        )
    except ValueError as exc:
        if channel == "subscribe":
            subscriptions.give_back(session, member.id, spec["subscribe"]["template_id"])
        log.warning("message %s data refused: %s", row.id, exc)
        return _give_up(session, row, "failed", "invalid_data", now)
    row.state, row.channel, row.attempts = "sending", channel, row.attempts + 1
    row.claimed_at = now
    if channel == "oa" and row.first_oa_attempt_at is None:
        row.first_oa_attempt_at = now
    return Prepared(
        row.id,
        channel,
        touser,
        spec[channel]["template_id"],
        data,
        spec.get("page") or "",
        member.id,
        spec.get("coupon_template_id"),
        row.campaign_id,
        row.purpose,
    )


def _send(prepared: Prepared, cfg: dict) -> dict:
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


def deliver(session, message_id, worker, now=None, bucket=None, cache=None) -> str:
    """Deliver one claimed message; returns its outcome (sent, failed, skipped, retry, ...)."""
    now = now or clock.now()
    cfg = outbox.settings(session)
    if bucket is not None and not bucket.take():
        session.execute(
            update(_M)
            .where(_M.c.id == message_id, _M.c.state == "claimed", _M.c.claimed_by == worker)
            .values(state="pending")
        )
        session.commit()
        return "rate_limited"
    prepared = _prepare(session, message_id, worker, now, cfg, {} if cache is None else cache)
    session.commit()
    if not isinstance(prepared, Prepared):
        return prepared
    checkpoint("sending", message_id)
    try:
        result, error = _send(prepared, cfg), None
    except (wechat.WeChatAPIError, wechat.WeChatUnavailable) as exc:
        result, error = None, exc
    checkpoint("sent", message_id)
    outcome = _record(session, prepared, worker, result, error, now, cfg)
    session.commit()
    count_delivery(prepared.channel, prepared.purpose, outcome)
    if error is not None and getattr(error, "errcode", None) == 45009:
        raise DailyQuotaReached(str(error))
    return outcome


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
) -> dict:
    """Claim and deliver due messages until none are left (or the budget is spent)."""

    counts: dict[str, int] = {}
    started = time.monotonic()
    cache: dict = {}
    done = 0
    while True:
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            break
        if bucket is not None and bucket.paused():
            counts["paused"] = 1
            break
        ids = claim_batch(session, now_fn(), worker, batch)
        if not ids:
            break
        for i, message_id in enumerate(ids):
            try:
                outcome = deliver(session, message_id, worker, now_fn(), bucket, cache)
            except DailyQuotaReached:
                log.error("WeChat daily quota reached (45009): sending paused for an hour")
                if bucket is not None:
                    bucket.pause(DAILY_QUOTA_PAUSE.total_seconds())
                _release(session, ids[i + 1 :], worker)
                counts["paused_daily_quota"] = 1
                return counts
            counts[outcome] = counts.get(outcome, 0) + 1
            done += 1
        if max_messages is not None and done >= max_messages:
            break
    return counts


def _release(session: Session, ids: list[int], worker: str) -> None:
    if ids:
        session.execute(
            update(_M)
            .where(_M.c.id.in_(ids), _M.c.state == "claimed", _M.c.claimed_by == worker)
            .values(state="pending")
        )
        session.commit()
