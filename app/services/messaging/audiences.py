"""Audiences: which members a campaign, push or wake-up reaches, from one filter.

The filter is the dict `AudienceFilterSchema` loads (or its JSON form, as campaigns store it).
Stages, RFM groups and the odds of being active come from the last nightly segments refresh;
tier, store, points balance and paid membership are live; the last purchase range and what
members bought (categories, skus, the likely buyers of a category: audience_purchases) read the
purchases themselves, leaving out orders refunded in full.
"""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member, Purchase
from app.models.membership import Membership
from app.models.segments import MemberSegment, SegmentModelValue
from app.schemas.audiences import AudienceFilterSchema
from app.services import pagination
from app.services.ledger import points_program
from app.services.messaging import audience_purchases

# A member not yet seen by a refresh signed up after it ran: they count as new.
UNREFRESHED_STAGE = "new"


def load_filter(raw: dict | None) -> dict:
    """The filter validated and typed; dates may be date objects or ISO strings. 422 if invalid."""
    as_json = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in (raw or {}).items()}
    try:
        return AudienceFilterSchema().load(as_json)
    except ma.ValidationError as err:
        raise AppError(
            "request.invalid",
            message="The audience filter has invalid fields.",
            details=err.messages,
        ) from err


def member_ids_query(filter: dict, *, lowest_tier_code: str | None = None) -> Select:
    """SELECT members.id of every member the filter matches (all criteria must hold).

    Set-based, for use as a subquery or in INSERT ... SELECT. Members whose tier was never
    evaluated (tier code '') belong to the lowest tier: pass its code if the points program
    changed it (default: the built-in lowest tier).
    """
    f = load_filter(filter)
    query = select(Member.id)
    conditions = [Member.closed_at.is_(None)]  # a closed account is nobody's audience
    segment_fields = ("lifecycle_stages", "rfm_groups", "p_alive_min", "p_alive_max")
    if any(f.get(name) is not None for name in segment_fields):
        query = query.outerjoin(MemberSegment, MemberSegment.member_id == Member.id)
    if f.get("p_alive_min") is not None or f.get("p_alive_max") is not None:
        query = query.outerjoin(SegmentModelValue, SegmentModelValue.k == MemberSegment.model_key)
    if f.get("lifecycle_stages") is not None:
        stage = func.coalesce(MemberSegment.lifecycle_stage, UNREFRESHED_STAGE)
        conditions.append(stage.in_(f["lifecycle_stages"]))
    if f.get("rfm_groups") is not None:
        conditions.append(MemberSegment.rfm_group.in_(f["rfm_groups"]))
    if f.get("p_alive_min") is not None:
        conditions.append(SegmentModelValue.p_alive >= f["p_alive_min"])
    if f.get("p_alive_max") is not None:
        conditions.append(SegmentModelValue.p_alive <= f["p_alive_max"])
    if f.get("tiers") is not None:
        lowest = lowest_tier_code or points_program.DEFAULTS["tiers"][0]["code"]
        codes = list(f["tiers"]) + ([""] if lowest in f["tiers"] else [])
        conditions.append(Member.tier_code.in_(codes))
    if f.get("store_ids") is not None:
        conditions.append(Member.store_id.in_(f["store_ids"]))
    if f.get("points_min") is not None:
        conditions.append(Member.points_balance >= f["points_min"])
    if f.get("points_max") is not None:
        conditions.append(Member.points_balance <= f["points_max"])
    purchased = (f.get("last_purchase_from"), f.get("last_purchase_to"))
    conditions.extend(_last_purchase_conditions(*purchased))
    if f.get("paid_member") is not None:
        conditions.append(_paid_member_condition(f["paid_member"]))
    if f.get("bought_categories") is not None:
        conditions.append(audience_purchases.bought_categories_condition(f["bought_categories"]))
    if f.get("bought_skus") is not None:
        conditions.append(audience_purchases.bought_skus_condition(f["bought_skus"]))
    query = query.where(*conditions)
    if f.get("likely_buyers_of") is not None:
        # The top N among the members every other criterion selects (a store's likeliest).
        likely = audience_purchases.likely_buyers_condition(query, f["likely_buyers_of"])
        query = select(Member.id).where(likely)
    return query


def _paid_member_condition(paid: bool):
    """Whether the member's paid membership covers today (business time zone)."""
    today = clock.business_today()
    covered = exists().where(
        Membership.member_id == Member.id,
        Membership.starts_on <= today,
        Membership.ends_on >= today,
    )
    return covered if paid else ~covered


def _last_purchase_conditions(first: date | None, last: date | None) -> list:
    """The member's latest purchase (not refunded in full) fell on a business day in
    [first, last]."""
    if first is None and last is None:
        return []
    counts = (Purchase.refunded_fen < Purchase.amount_fen) | (Purchase.amount_fen == 0)
    inside = [Purchase.member_id == Member.id, counts]
    if first is not None:
        inside.append(Purchase.paid_at >= clock.business_day_start(first))
    if last is None:
        return [exists().where(*inside)]
    end = clock.business_day_end(last)
    inside.append(Purchase.paid_at < end)
    later = exists().where(Purchase.member_id == Member.id, counts, Purchase.paid_at >= end)
    return [exists().where(*inside), ~later]


def check_tiers(session: Session, filter: dict) -> None:
    """422 when the filter names a tier the points program does not have (it reaches nobody:
    a typo, or a tier since removed), for filters as marketing writes them."""
    known = {t["code"] for t in points_program.tiers(points_program.config(session))}
    unknown = sorted(set(filter.get("tiers") or ()) - known)
    if unknown:
        raise AppError(
            "request.invalid",
            message="The audience filter names tiers the points program does not have.",
            details={"tiers": [f"Unknown tier: {code}." for code in unknown]},
        )


def lowest_tier_code(session: Session) -> str:
    """The code of the tier a member has before any evaluation (the lowest threshold)."""
    return points_program.tiers(points_program.config(session))[0]["code"]


def count(session: Session, filter: dict) -> int:
    """How many members the filter reaches right now (422 for a tier the program lacks)."""
    check_tiers(session, load_filter(filter))
    ids = member_ids_query(filter, lowest_tier_code=lowest_tier_code(session)).subquery()
    return int(session.execute(select(func.count()).select_from(ids)).scalar_one())


def member_ids_page(
    session: Session, filter: dict, limit: int, after: int | None
) -> pagination.Page:
    """One page of the ids of the members the filter reaches now, highest id first (one
    statement): what the console hands to a coupon push, a push's worth at a time."""
    check_tiers(session, load_filter(filter))
    query = member_ids_query(filter, lowest_tier_code=lowest_tier_code(session))
    if after is not None:
        query = query.where(Member.id < after)
    ids = session.execute(query.order_by(Member.id.desc()).limit(limit + 1)).scalars().all()
    items = ids[:limit]
    return pagination.Page(items, items[-1] if len(ids) > limit and items else None)


__all__ = [
    "check_tiers",
    "count",
    "load_filter",
    "lowest_tier_code",
    "member_ids_page",
    "member_ids_query",
]
