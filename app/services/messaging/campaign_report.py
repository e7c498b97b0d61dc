"""What a campaign did: its messages by outcome, and its measured effect against the holdout.

The effect compares everyone targeted and not held out (whether or not a message reached them:
"intent to treat", so a channel that fails for some kinds of member cannot bias it) with the
held-out members: the share who bought within N days of the send time, and spend per member.
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import BigInteger, Float, case, cast, func, select
from sqlalchemy.orm import Session

from app.models.messaging import CampaignMember, OutboxMessage
from app.models.till import Purchase
from app.services.messaging.campaigns import get

Z95 = 1.959963984540054


def _interval(diff: float, se: float) -> list[float] | None:
    if math.isnan(se):
        return None
    return [diff - Z95 * se, diff + Z95 * se]


def _groups(session: Session, campaign_id: int, start, end) -> dict[bool, dict]:
    spend = (
        select(
            Purchase.member_id.label("member_id"),
            cast(func.sum(Purchase.amount_fen - Purchase.refunded_fen), BigInteger).label("spend"),
        )
        .where(Purchase.paid_at >= start, Purchase.paid_at < end, Purchase.amount_fen > 0)
        .group_by(Purchase.member_id)
        .subquery()
    )
    spent = func.coalesce(spend.c.spend, 0)
    rows = session.execute(
        select(
            CampaignMember.holdout,
            func.count(),
            func.sum(case((spend.c.member_id.is_not(None), 1), else_=0)),
            cast(func.sum(spent), BigInteger),
            func.sum(cast(spent, Float) * cast(spent, Float)),
        )
        .select_from(CampaignMember)
        .outerjoin(spend, spend.c.member_id == CampaignMember.member_id)
        .where(CampaignMember.campaign_id == campaign_id)
        .group_by(CampaignMember.holdout)
    ).all()
    groups = {}
    for holdout, n, buyers, total, squares in rows:
        n, buyers, total, squares = int(n), int(buyers or 0), int(total or 0), float(squares or 0)
        mean = total / n if n else 0.0
        variance = (squares - n * mean * mean) / (n - 1) if n > 1 else float("nan")
        groups[bool(holdout)] = {
            "members": n,
            "purchasers": buyers,
            "purchase_share": buyers / n if n else 0.0,
            "spend_fen": total,
            "spend_per_member_fen": mean,
            "_var": max(variance, 0.0) if not math.isnan(variance) else variance,
        }
    empty = {
        "members": 0,
        "purchasers": 0,
        "purchase_share": 0.0,
        "spend_fen": 0,
        "spend_per_member_fen": 0.0,
        "_var": float("nan"),
    }
    return {True: groups.get(True, dict(empty)), False: groups.get(False, dict(empty))}


def report(session: Session, campaign_id: int, days: int | None = None) -> dict:
    """Targeted, held out, sent, failed and skipped by reason; the effect with 95% intervals."""
    campaign = get(session, campaign_id)
    days = days or campaign.report_days
    outcomes: dict[str, int] = {}
    reasons: dict[str, dict[str, int]] = {}
    for state, reason, n in session.execute(
        select(OutboxMessage.state, OutboxMessage.reason, func.count())
        .where(OutboxMessage.campaign_id == campaign_id)
        .group_by(OutboxMessage.state, OutboxMessage.reason)
    ).all():
        outcomes[state] = outcomes.get(state, 0) + n
        if state in ("failed", "skipped", "uncertain"):
            reasons.setdefault(state, {})[reason or "unknown"] = n
    answer = {
        "campaign_id": campaign.id,
        "status": campaign.status,
        "targeted": campaign.targeted,
        "held_out": campaign.held_out,
        "queued": sum(outcomes.values()),
        "sent": outcomes.get("sent", 0),
        "failed": outcomes.get("failed", 0),
        "skipped": outcomes.get("skipped", 0),
        "uncertain": outcomes.get("uncertain", 0),
        "cancelled": outcomes.get("cancelled", 0),
        "pending": sum(outcomes.get(s, 0) for s in ("pending", "claimed", "sending")),
        "failed_by_reason": reasons.get("failed", {}),
        "skipped_by_reason": reasons.get("skipped", {}),
        "window_days": days,
        "effect": None,
    }
    if campaign.send_at is None or campaign.enqueued_at is None:
        return answer
    start = campaign.send_at
    groups = _groups(session, campaign.id, start, start + timedelta(days=days))
    treated, holdout = groups[False], groups[True]
    p1, n1 = treated["purchase_share"], treated["members"]
    p0, n0 = holdout["purchase_share"], holdout["members"]
    if n1 and n0:
        share_se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
        spend_se = math.sqrt(treated["_var"] / n1 + holdout["_var"] / n0)
    else:
        share_se = spend_se = float("nan")
    share_diff = p1 - p0
    spend_diff = treated["spend_per_member_fen"] - holdout["spend_per_member_fen"]
    for group in (treated, holdout):
        group.pop("_var")
    answer["effect"] = {
        "window_start": start,
        "window_end": start + timedelta(days=days),
        "treated": treated,
        "holdout": holdout,
        "purchase_share_difference": share_diff,
        "purchase_share_difference_ci95": _interval(share_diff, share_se),
        "spend_per_member_difference_fen": spend_diff,
        "spend_per_member_difference_ci95": _interval(spend_diff, spend_se),
    }
    return answer
