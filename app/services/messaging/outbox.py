"""The outbox: every message is a row, unique per (purpose, member, dedupe key), before any send.

Also the messaging settings (templates per purpose, quiet hours, the marketing cap, the send
rate), and the quiet-hours rule: nothing is sent from 21:00 to 09:00 business time.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session

from app import clock
from app.models.base import insert_ignore
from app.models.messaging import OutboxMessage
from app.services import programs

DEFAULTS = {
    "send_rate_per_second": 50,  # shared by every dispatcher process (WeChat: start at 50-100)
    "send_burst": 50,
    "quiet_start": "21:00",  # business time; held until quiet_end
    "quiet_end": "09:00",
    "marketing_cap_days": 3,  # at most one marketing message per member in this many days
    "max_attempts": 5,
    "expiry_reminder_days": 7,  # remind of points expiring within this many days
    "wakeup_every_days": 30,  # at most one wake-up per member in this many days
    "wakeup_coupon_template_id": None,
    "templates": {
        "points_expiry": {
            "page": "pages/points/index",
            "subscribe": {
                "template_id": "tmpl-points-expiry",
                "data": {
                    "number1": "{expiring_points}",
                    "date2": "{expires_on}",
                    "thing3": "积分即将过期，记得使用",
                },
            },
            "oa": {
                "template_id": "oa-points-expiry",
                "data": {"number1": "{expiring_points}", "date2": "{expires_on}"},
            },
        },
        "dormant_wakeup": {
            "page": "pages/index/index",
            "subscribe": {
                "template_id": "tmpl-wakeup",
                "data": {"name1": "{nickname}", "thing2": "好久不见，新品和积分好礼等您来"},
            },
            "oa": {
                "template_id": "oa-wakeup",
                "data": {"name1": "{nickname}", "thing2": "好久不见，积分好礼等您来"},
            },
        },
        "birthday_gift": {
            "page": "pages/index/index",
            "subscribe": {
                "template_id": "tmpl-birthday",
                "data": {"name1": "{nickname}", "thing2": "生日快乐！生日礼已放入您的账户"},
            },
            "oa": {
                "template_id": "oa-birthday",
                "data": {"name1": "{nickname}", "thing2": "生日快乐！生日礼已到账"},
            },
        },
        # The nightly tier evaluation, when a member's earnings fall below their tier and its
        # grace days start (issue 19): they keep it until downgrade_on unless they buy again.
        "tier_downgrade_notice": {
            "page": "pages/member/index",
            "subscribe": {
                "template_id": "tmpl-tier-downgrade",
                "data": {
                    "thing1": "{tier_name}",
                    "date2": "{downgrade_on}",
                    "thing3": "再消费即可保级",
                },
            },
            "oa": {
                "template_id": "oa-tier-downgrade",
                "data": {"thing1": "{tier_name}", "date2": "{downgrade_on}"},
            },
        },
        "membership_expiring": {
            "page": "pages/membership/index",
            "subscribe": {
                "template_id": "tmpl-membership-expiring",
                "data": {"date1": "{membership_ends_on}", "thing2": "付费会员即将到期，续费可延长"},
            },
            "oa": {
                "template_id": "oa-membership-expiring",
                "data": {"date1": "{membership_ends_on}", "thing2": "付费会员即将到期"},
            },
        },
        "membership_renewed": {
            "page": "pages/membership/index",
            "subscribe": {
                "template_id": "tmpl-membership-renewed",
                "data": {"date1": "{membership_ends_on}", "thing2": "付费会员已开通"},
            },
            "oa": {
                "template_id": "oa-membership-renewed",
                "data": {"date1": "{membership_ends_on}", "thing2": "付费会员已开通"},
            },
        },
    },
}
programs.register_defaults("messaging", DEFAULTS)


def settings(session: Session) -> dict:
    cfg = programs.get_config(session, "messaging")
    # Settings saved before a purpose existed (birthday_gift, tier_downgrade_notice) keep its
    # default template.
    cfg["templates"] = {**DEFAULTS["templates"], **(cfg.get("templates") or {})}
    return cfg


def _hhmm(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def quiet_until(now: datetime, cfg: dict) -> datetime | None:
    """The end of quiet hours (UTC) if `now` falls in them, else None."""
    local = now.astimezone(clock.business_tz())
    start, end = _hhmm(cfg["quiet_start"]), _hhmm(cfg["quiet_end"])
    t = local.time()
    in_quiet = (t >= start or t < end) if start > end else (start <= t < end)
    if not in_quiet:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    morning = datetime.combine(day, end, tzinfo=clock.business_tz())
    return morning.astimezone(now.tzinfo)


def send_time(now: datetime, cfg: dict) -> datetime:
    """The earliest moment a message queued now may be sent (the next morning in quiet hours)."""
    return quiet_until(now, cfg) or now


def enqueue_from(purpose: str, source: str, *, marketing: bool) -> str:
    """SQL queueing one message per row of `source` (a query yielding member_id, dedupe_key,
    params), the binds :now and :not_before; a repeat is ignored. Returns the new rows' id,
    member_id and dedupe_key. For jobs over many members: one statement per batch, nothing
    per member in Python."""
    return f"""
    INSERT INTO message_outbox (purpose, member_id, dedupe_key, campaign_id, marketing, params,
                                state, not_before, attempts, cap_taken, created_at)
    SELECT '{purpose}', src.member_id, src.dedupe_key, NULL, {"true" if marketing else "false"},
           src.params, 'pending', :not_before, 0, false, :now
    FROM ({source}) AS src
    ON CONFLICT (purpose, member_id, dedupe_key) DO NOTHING
    RETURNING id, member_id, dedupe_key
    """


def enqueue(
    session: Session,
    purpose: str,
    rows: list[dict],
    now: datetime,
    *,
    marketing: bool,
    not_before: datetime | None = None,
) -> int:
    """Queue one message per row {member_id, dedupe_key, params}; a repeat is ignored.

    Returns how many were new. The unique (purpose, member, key) makes a second run of a job, or
    two at once, queue nothing more.
    """
    return len(enqueue_ids(session, purpose, rows, now, marketing=marketing, not_before=not_before))


def enqueue_ids(
    session: Session,
    purpose: str,
    rows: list[dict],
    now: datetime,
    *,
    marketing: bool,
    not_before: datetime | None = None,
) -> list[int]:
    """As enqueue, returning the ids of the messages that were new."""
    if not rows:
        return []
    values = [
        {
            "purpose": purpose,
            "member_id": row["member_id"],
            "dedupe_key": row["dedupe_key"],
            "campaign_id": row.get("campaign_id"),
            "marketing": marketing,
            "params": row.get("params"),
            "state": "pending",
            "not_before": not_before or now,
            "attempts": 0,
            "cap_taken": False,
            "created_at": now,
        }
        for row in rows
    ]
    return insert_ignore(
        session, OutboxMessage, values, "purpose", "member_id", "dedupe_key"
    ).inserted
