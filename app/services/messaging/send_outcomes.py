"""What a send's answer means for the message: sent, retried later, failed, or uncertain.

WeChat's answers are classified as WECHAT.md says: retry with backoff and jitter (-1, 45011,
network failures; token errors after the client's one refresh), delay (45009 daily quota, 43117
too frequent for that user), never retry (43101 and the like). A read timeout may have been
delivered: a subscribe message is then `uncertain` (never resent); an official-account message
is retried under the same client_msg_id.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

import requests
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app.models.messaging import OaFollower, OutboxMessage
from app.services.coupons import coupon_push
from app.services.messaging import marketing_cap, subscriptions
from app.wechat import client as wechat

TRANSIENT = {-1, 45011, 40001, 40014, 42001}
DAILY_QUOTA_PAUSE = timedelta(hours=1)
DELAYED = {45009: DAILY_QUOTA_PAUSE, 43117: timedelta(hours=1)}
_M = OutboxMessage.__table__


@dataclass
class Prepared:
    id: int
    channel: str
    touser: str
    template_id: str
    data: dict
    page: str
    member_id: int
    coupon_template_id: int | None = None
    campaign_id: int | None = None
    purpose: str = ""


def give_up(session: Session, row: OutboxMessage, state: str, reason: str, now) -> str:
    """A final outcome other than sent: the marketing cap goes back to the member."""
    if row.cap_taken and state in ("skipped", "failed", "cancelled"):
        row.state = state  # before the stamp is recomputed from what was really sent
        session.flush()
        marketing_cap.give_back(session, row.member_id)
        row.cap_taken = False
    row.state, row.reason, row.finished_at = state, reason, now
    return state


def backoff(attempts: int) -> timedelta:
    # 30 s, 60 s, 120 s, ... capped at 15 min, times a jitter in [0.5, 1.5) so retries spread out.
    base = min(30 * 2 ** max(attempts - 1, 0), 900)
    return timedelta(seconds=base * (0.5 + random.random()))


def _still_mine(session: Session, prepared: Prepared, worker: str) -> OutboxMessage | None:
    return session.execute(
        select(OutboxMessage)
        .where(
            OutboxMessage.id == prepared.id,
            OutboxMessage.state == "sending",
            OutboxMessage.claimed_by == worker,
        )
        .with_for_update()
    ).scalar_one_or_none()


def _relaxed_commit(session: Session) -> None:
    """Let this transaction's commit skip the wait for the disk.

    Only for recording an outcome: if such a commit is lost in a crash, the message is back to
    `sending`, which recovery treats as unclear (an OA resend under the same client_msg_id, a
    subscribe message marked uncertain): never a second send. The `sending` commit itself, which
    guards against sending twice, always waits for the disk.
    """
    session.execute(text("SET LOCAL synchronous_commit TO OFF"))


# Text, with arrays: one cached statement whatever the chunk's size (a VALUES list is compiled
# again for every chunk, which cost more CPU than the update itself).
_MARK_SENT = text(
    """
    UPDATE message_outbox m
    SET state = 'sent', sent_at = :now, finished_at = :now, reason = NULL, msgid = v.msgid
    FROM unnest(CAST(:ids AS bigint[]), CAST(:msgids AS bigint[])) AS v(id, msgid)
    WHERE m.id = v.id AND m.state = 'sending' AND m.claimed_by = :worker
    RETURNING m.id
    """
)


def record_sent(
    session: Session, sent: list[tuple[Prepared, dict | None]], worker: str, now
) -> dict[int, str]:
    """The common outcome for a whole chunk in one statement: sent (with WeChat's msgid), for
    each message still ours; "gone" for one recovery took over meanwhile (it decides)."""
    if not sent:
        return {}
    _relaxed_commit(session)
    marked = set(
        session.execute(
            _MARK_SENT,
            {
                "ids": [p.id for p, _ in sent],
                "msgids": [(result or {}).get("msgid") for _, result in sent],
                "worker": worker,
                "now": now,
            },
        ).scalars()
    )
    return {p.id: "sent" if p.id in marked else "gone" for p, _ in sent}


def record(session, prepared: Prepared, worker, result, error, now, cfg) -> str:
    _relaxed_commit(session)
    if error is None and not prepared.coupon_template_id:
        # The common case in one statement: sent, if the row is still ours.
        marked = session.execute(
            update(_M)
            .where(_M.c.id == prepared.id, _M.c.state == "sending", _M.c.claimed_by == worker)
            .values(
                state="sent",
                sent_at=now,
                finished_at=now,
                reason=None,
                msgid=(result or {}).get("msgid"),
            )
            .returning(_M.c.id)
        ).first()
        return "sent" if marked else "gone"
    row = _still_mine(session, prepared, worker)
    if row is None:
        return "gone"  # recovery took it over (we were too slow); it decides
    template_id = prepared.template_id
    if error is None:
        row.state, row.sent_at, row.finished_at, row.reason = "sent", now, now, None
        row.msgid = (result or {}).get("msgid")
        if prepared.coupon_template_id:
            coupon_push.push_coupon(
                session,
                prepared.coupon_template_id,
                row.member_id,
                source="campaign",
                ref=f"campaign:{prepared.campaign_id}:{row.member_id}",
                now=now,
            )
        return "sent"
    if isinstance(error, wechat.WeChatUnavailable):
        ambiguous = _maybe_delivered(error)
        if ambiguous and prepared.channel == "subscribe":
            return give_up(session, row, "uncertain", "timeout", now)
        return _retry(session, row, "timeout" if ambiguous else "unreachable", now, cfg)
    code = error.errcode
    row.errcode = code
    if code in TRANSIENT or code in DELAYED:
        if prepared.channel == "subscribe":
            subscriptions.give_back(session, row.member_id, template_id)
        return _retry(session, row, f"wechat_{code}", now, cfg, DELAYED.get(code))
    if prepared.channel == "subscribe":
        if code == 43101:
            subscriptions.use_up(session, row.member_id, template_id)
        else:
            subscriptions.give_back(session, row.member_id, template_id)
    if code == 43004:  # does not follow the account (any more)
        session.execute(
            update(OaFollower).where(OaFollower.openid == prepared.touser).values(following=False)
        )
    return give_up(session, row, "failed", f"wechat_{code}", now)


def _maybe_delivered(error: Exception) -> bool:
    """A read timeout or a 5xx may have been delivered; a refused connection or no token not."""
    cause = error.__cause__
    # ConnectTimeout is a ConnectionError too: nothing reached WeChat.
    return not isinstance(cause, requests.ConnectionError | wechat.tokens.TokenUnavailable)


def _retry(session, row: OutboxMessage, reason: str, now, cfg, delay=None) -> str:
    if row.attempts >= int(cfg["max_attempts"]):
        return give_up(session, row, "failed", f"retries_exhausted:{reason}", now)
    if row.channel == "subscribe":
        row.channel = None  # WeChat refused it: the next attempt may choose again
    row.state, row.reason = "pending", reason
    row.not_before = now + (delay or backoff(row.attempts))
    return "retry"
