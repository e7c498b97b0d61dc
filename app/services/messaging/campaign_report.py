"""What a campaign did: its messages by outcome, and its measured effect against the holdout.

The effect compares everyone targeted and not held out (whether or not a message reached them:
"intent to treat", so a channel that fails for some kinds of member cannot bias it) with the
held-out members: the share who bought within N days of the first message sent, and spend per
member. The window starts at the first send, never before (a campaign sent late is not credited
with what was bought before anyone heard from it); until a message is sent there is no effect.

Intervals (95 %): the difference of the purchase shares by Newcombe's hybrid score method (its
Wilson intervals behave near 0 % and 100 % and for small groups, where the normal approximation
gives intervals outside [-1, 1]); the difference of spend per member by Welch's t (unequal
variances, Welch-Satterthwaite degrees of freedom).

A campaign that promotes a category (`promoted_category`) also gets the share of treated and
held-out members who bought a line of it in the window (a line refunded in full is not bought),
with the same Newcombe interval for the difference.
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import BigInteger, Float, case, cast, func, select
from sqlalchemy.orm import Session

from app.models.messaging import CampaignMember, OutboxMessage
from app.models.till import Purchase, PurchaseLine
from app.services.messaging.campaigns import get

INTERVALS = {"purchase_share": "newcombe_hybrid_score", "spend_per_member": "welch_t"}


def share_interval(bought1: int, n1: int, bought0: int, n0: int) -> list[float] | None:
    """95 % interval of bought1/n1 - bought0/n0 (Newcombe's hybrid score, statsmodels)."""
    if not n1 or not n0:
        return None
    # Imported here: statsmodels (with pandas) adds a second to a process's start, and only
    # the campaign report needs it.
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(
        bought1, n1, bought0, n0, method="newcomb", compare="diff", alpha=0.05
    )
    return [float(low), float(high)]


def welch_interval(diff: float, var1: float, n1: int, var0: float, n0: int) -> list[float] | None:
    """95 % interval of a difference of means with unequal variances (Welch's t)."""
    if n1 < 2 or n0 < 2 or math.isnan(var1) or math.isnan(var0):
        return None
    from scipy.stats import t

    a, b = var1 / n1, var0 / n0
    se = math.sqrt(a + b)
    if se == 0:
        return [diff, diff]
    dof = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n0 - 1))
    half = float(t.ppf(0.975, dof)) * se
    return [diff - half, diff + half]


def _groups(session: Session, campaign_id: int, start, end) -> dict[bool, dict]:
    spend = (
        select(
            Purchase.member_id.label("member_id"),
            cast(func.sum(Purchase.amount_fen - Purchase.refunded_fen), BigInteger).label("spend"),
        )
        .where(
            Purchase.paid_at >= start,
            Purchase.paid_at < end,
            Purchase.amount_fen > 0,
            Purchase.refunded_fen < Purchase.amount_fen,  # refunded in full: not bought
        )
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


def _category_buyers(session: Session, campaign_id: int, category: str, start, end) -> dict:
    """Per group (holdout or not): members, and those with a counted line of `category`."""
    buyers = (
        select(Purchase.member_id)
        .select_from(PurchaseLine)
        .join(Purchase, Purchase.id == PurchaseLine.purchase_id)
        .where(
            PurchaseLine.category == category,
            Purchase.paid_at >= start,
            Purchase.paid_at < end,
            Purchase.amount_fen > 0,
            Purchase.refunded_fen < Purchase.amount_fen,
            (PurchaseLine.refunded_fen < PurchaseLine.amount_fen) | (PurchaseLine.amount_fen == 0),
        )
        .distinct()
        .subquery()
    )
    rows = session.execute(
        select(
            CampaignMember.holdout,
            func.count(),
            func.count(buyers.c.member_id),
        )
        .select_from(CampaignMember)
        .outerjoin(buyers, buyers.c.member_id == CampaignMember.member_id)
        .where(CampaignMember.campaign_id == campaign_id)
        .group_by(CampaignMember.holdout)
    ).all()
    groups = {holdout: (int(n), int(bought)) for holdout, n, bought in rows}

    def group(holdout: bool) -> dict:
        n, bought = groups.get(holdout, (0, 0))
        return {"members": n, "buyers": bought, "share": bought / n if n else 0.0}

    treated, holdout = group(False), group(True)
    return {
        "category": category,
        "treated": treated,
        "holdout": holdout,
        "share_difference": treated["share"] - holdout["share"],
        "share_difference_ci95": share_interval(
            treated["buyers"], treated["members"], holdout["buyers"], holdout["members"]
        ),
    }


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
    first_sent = session.scalar(
        select(func.min(OutboxMessage.sent_at)).where(OutboxMessage.campaign_id == campaign_id)
    )
    if first_sent is None:
        return answer
    start = max(campaign.send_at, first_sent)
    groups = _groups(session, campaign.id, start, start + timedelta(days=days))
    treated, holdout = groups[False], groups[True]
    n1, n0 = treated["members"], holdout["members"]
    share_diff = treated["purchase_share"] - holdout["purchase_share"]
    spend_diff = treated["spend_per_member_fen"] - holdout["spend_per_member_fen"]
    spend_ci = welch_interval(spend_diff, treated.pop("_var"), n1, holdout.pop("_var"), n0)
    answer["effect"] = {
        "window_start": start,
        "window_end": start + timedelta(days=days),
        "treated": treated,
        "holdout": holdout,
        "purchase_share_difference": share_diff,
        "purchase_share_difference_ci95": share_interval(
            treated["purchasers"], n1, holdout["purchasers"], n0
        ),
        "spend_per_member_difference_fen": spend_diff,
        "spend_per_member_difference_ci95": spend_ci,
        "promoted_category": None,
        "intervals": INTERVALS,
    }
    if campaign.promoted_category:
        answer["effect"]["promoted_category"] = _category_buyers(
            session, campaign.id, campaign.promoted_category, start, start + timedelta(days=days)
        )
    return answer
