"""Moving a chunk of claimed messages to `sending`: channel, quota, marketing cap and data.

One statement reads the chunk's rows with their members and followers (locked), one takes the
marketing caps, one the subscribe quotas, one moves every prepared row to `sending`; the rare
outcomes (unfollowed, no channel, invalid data, capped) are written row by row. A member with two
messages in the chunk has the second's cap and quota taken on their own, after the first's, so
the outcome is the one a message-at-a-time dispatcher gives.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import and_, select, text, update
from sqlalchemy.orm import Session

from app import clock
from app.models import Member
from app.models.messaging import Campaign, OaFollower, OutboxMessage
from app.services.ledger import expiring_summary
from app.services.messaging import marketing_cap, message_templates, subscriptions
from app.services.messaging.send_outcomes import Prepared
from app.services.messaging.send_outcomes import give_up as _give_up

log = logging.getLogger("huiyuan.dispatch")
OA_RESEND_WINDOW = timedelta(minutes=9)  # WeChat ignores a repeated client_msg_id for 10
_M = OutboxMessage.__table__
_F = OaFollower.__table__


def campaign_spec(session: Session, row, cfg: dict, cache: dict) -> tuple[dict, str]:
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
    session: Session, member, params: dict | None, now, spec: dict | None = None
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
    if "downgrade_on" in params:  # tier_downgrade_notice
        values["tier_name"] = params.get("tier_name")
        values["downgrade_on"] = date.fromisoformat(params["downgrade_on"])
    if "ends_on" in params:  # a paid membership's messages
        values["membership_ends_on"] = date.fromisoformat(params["ends_on"])
    if "expiring_points" in params:
        values["expiring_points"] = params["expiring_points"]
        values["expires_on"] = datetime.fromisoformat(params["expires_on"]).date()
    elif spec is None or "{expir" in str(spec):
        soon = expiring_summary(session, member.id, clock.business_date(now))
        if soon:
            values["expiring_points"] = soon[0]["points"]
            values["expires_on"] = soon[0]["expires_on"]
    return values


def _claimed_rows(session: Session, ids: list[int], worker: str) -> list:
    """The chunk's rows still claimed by this worker, with member and follower, locked."""
    rows = session.execute(
        select(
            _M.c.id,
            _M.c.member_id,
            _M.c.purpose,
            _M.c.campaign_id,
            _M.c.marketing,
            _M.c.params,
            _M.c.channel,
            _M.c.reason,
            _M.c.cap_taken,
            _M.c.first_oa_attempt_at,
            Member.nickname,
            Member.points_balance,
            Member.member_no,
            Member.openid,
            _F.c.openid.label("oa_openid"),
        )
        .join(Member, Member.id == _M.c.member_id)
        .outerjoin(_F, and_(_F.c.unionid == Member.unionid, _F.c.following.is_(True)))
        .where(_M.c.id.in_(ids), _M.c.state == "claimed", _M.c.claimed_by == worker)
        .order_by(_M.c.id)
        .with_for_update(of=_M)
    ).all()
    seen: set[int] = set()
    unique = []
    for row in rows:  # a unionid followed twice would repeat the row
        if row.id not in seen and row.member_id is not None:
            seen.add(row.id)
            unique.append(row)
    return unique


def prepare_chunk(
    session: Session, ids: list[int], worker: str, now: datetime, cfg: dict, cache: dict
) -> tuple[list[Prepared], dict[int, str]]:
    """Move the chunk's claimed messages to `sending`; the prepared sends, and the outcome of
    each message that will not be sent (skipped, failed, gone...). The caller commits."""
    rows = _claimed_rows(session, ids, worker)
    outcomes: dict[int, str] = {}
    found = {row.id for row in rows}
    outcomes.update({i: "gone" for i in ids if i not in found})  # cancelled, or recovered
    specs = [campaign_spec(session, row, cfg, cache) for row in rows]
    capped = _take_caps(session, rows, now, cfg)
    quota_wanted = [
        row.channel != "oa"
        and preference in ("auto", "subscribe")
        and bool(spec.get("subscribe"))
        and bool(row.openid)
        and row.id not in capped
        for row, (spec, preference) in zip(rows, specs, strict=True)
    ]
    quota = _take_quotas(session, rows, specs, quota_wanted)
    prepared: list[Prepared] = []
    sending = []
    for row, (spec, preference), wants in zip(rows, specs, quota_wanted, strict=True):
        if row.id in capped:
            outcomes[row.id] = _skip(session, row.id, "marketing_cap", now)
            continue
        cap_now = bool(row.marketing and not row.cap_taken)
        channel, touser, final = _channel(row, spec, preference, wants and row.id in quota, now)
        if final is not None:
            outcomes[row.id] = _final(session, row.id, cap_now, *final, now)
            continue
        try:
            data = message_templates.fill(
                spec[channel],
                member_values(session, _member(row), row.params, now, spec[channel]),
                official_account=channel == "oa",
            )
        except ValueError as exc:
            if channel == "subscribe":
                subscriptions.give_back(session, row.member_id, spec["subscribe"]["template_id"])
            log.warning("message %s data refused: %s", row.id, exc)
            outcomes[row.id] = _final(session, row.id, cap_now, "failed", "invalid_data", now)
            continue
        sending.append({"id": row.id, "channel": channel, "cap": cap_now})
        prepared.append(
            Prepared(
                row.id,
                channel,
                touser,
                spec[channel]["template_id"],
                data,
                spec.get("page") or "",
                row.member_id,
                spec.get("coupon_template_id"),
                row.campaign_id,
                row.purpose,
            )
        )
    _mark_sending(session, sending, now)
    return prepared, outcomes


def _member(row) -> SimpleNamespace:
    return SimpleNamespace(
        id=row.member_id,
        nickname=row.nickname,
        points_balance=row.points_balance,
        member_no=row.member_no,
    )


def _channel(row, spec, preference, has_quota: bool, now):
    """(channel, touser, None) to send, or (None, None, (state, reason)) for a final outcome."""
    if row.channel == "oa":  # an earlier attempt may have reached WeChat: same channel, same key
        if row.oa_openid is None:
            return None, None, ("skipped", "unfollowed")
        if row.reason in ("timeout", "recovered") and now - row.first_oa_attempt_at > (
            OA_RESEND_WINDOW
        ):
            return None, None, ("uncertain", "oa_resend_window_passed")
        return "oa", row.oa_openid, None
    if has_quota:
        return "subscribe", row.openid, None
    if preference in ("auto", "oa") and spec.get("oa") and row.oa_openid is not None:
        return "oa", row.oa_openid, None
    return None, None, ("skipped", "no_quota_not_following")


def _take_caps(session: Session, rows: list, now: datetime, cfg: dict) -> set[int]:
    """Take the marketing cap for every marketing row that does not hold it yet; the ids of the
    rows the cap refused (the member had marketing within the cap's days)."""
    wanting = [row for row in rows if row.marketing and not row.cap_taken]
    if not wanting:
        return set()
    granted = marketing_cap.take_many(session, sorted({row.member_id for row in wanting}), now, cfg)
    refused = set()
    seen: set[int] = set()
    for row in wanting:
        if row.member_id in seen:
            # The same member's second message in this chunk asks on its own, after the first.
            if not marketing_cap.take(session, row.member_id, now, cfg):
                refused.add(row.id)
        elif row.member_id not in granted:
            refused.add(row.id)
        seen.add(row.member_id)
    return refused


def _take_quotas(session: Session, rows, specs, wanted) -> set[int]:
    """Take one subscribe send for every row that wants one; the ids of the rows that got it."""
    asking = [
        (row, spec["subscribe"]["template_id"])
        for row, (spec, _), wants in zip(rows, specs, wanted, strict=True)
        if wants
    ]
    if not asking:
        return set()
    pairs = [(row.member_id, template_id) for row, template_id in asking]
    granted = subscriptions.take_many(session, sorted(set(pairs)))
    got = set()
    seen: set = set()
    for (row, template_id), pair in zip(asking, pairs, strict=True):
        if pair in seen:
            if subscriptions.take_one(session, row.member_id, template_id):
                got.add(row.id)
        elif pair in granted:
            got.add(row.id)
        seen.add(pair)
    return got


def _skip(session: Session, message_id: int, reason: str, now) -> str:
    session.execute(
        update(_M)
        .where(_M.c.id == message_id)
        .values(state="skipped", reason=reason, finished_at=now)
    )
    return "skipped"


def _final(session: Session, message_id: int, cap_now: bool, state: str, reason: str, now) -> str:
    """A final outcome without a send, through give_up (which returns a cap the row holds)."""
    row = session.get(OutboxMessage, message_id)
    if cap_now:
        row.cap_taken = True
    return _give_up(session, row, state, reason, now)


_MARK_SENDING = text(
    """
    UPDATE message_outbox m
    SET state = 'sending', channel = v.channel, attempts = m.attempts + 1, claimed_at = :now,
        cap_taken = m.cap_taken OR v.cap,
        first_oa_attempt_at = CASE WHEN v.channel = 'oa'
                                   THEN coalesce(m.first_oa_attempt_at, :now)
                                   ELSE m.first_oa_attempt_at END
    FROM unnest(CAST(:ids AS bigint[]), CAST(:channels AS text[]), CAST(:caps AS boolean[]))
        AS v(id, channel, cap)
    WHERE m.id = v.id
    """
)


def _mark_sending(session: Session, sending: list[dict], now: datetime) -> None:
    """Every prepared row to `sending` in one statement (the commit that guards the send)."""
    if not sending:
        return
    session.flush()  # the rows given up on above, first
    session.execute(
        _MARK_SENDING,
        {
            "ids": [s["id"] for s in sending],
            "channels": [s["channel"] for s in sending],
            "caps": [s["cap"] for s in sending],
            "now": now,
        },
    )
