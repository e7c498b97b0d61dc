"""Points promotions (会员日, double points days): a purchase in one earns `multiplier` x the
tier's points.

A promotion runs from starts_at to ends_at (exclusive), on some weekdays (ISO 1 = Monday .. 7)
or some days of the month (1..31) or every day, counted in the business time zone (a Wednesday
会员日 is Wednesday in Asia/Shanghai, whatever UTC says), at some stores or all, for some tiers
or all. With `categories` it promotes the order's lines of those categories only: their share
of what was paid (payable x their amount / the order's amount, floor) earns the tier's points
again times (multiplier - 1). When several match, the highest multiplier applies (the most
points on a tie, then the oldest promotion). Extra points are floor((multiplier - 1) x the
tier's points); they join the purchase's points_awarded (one `purchase` ledger entry, which
counts towards the tier), so a refund reverses its share of them as of the rest. Imported
history (till.order_import) never goes through the till and is never promoted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member, Staff, Store
from app.models.promotions import Promotion, PurchasePromotion
from app.services import pagination, programs
from app.services.ledger import points_program
from app.services.staff import audit

MUTABLE = (
    "name",
    "multiplier",
    "weekdays",
    "month_days",
    "starts_at",
    "ends_at",
    "store_ids",
    "tiers",
    "categories",
    "is_active",
)
BACKDATED_DAYS = 31  # a receipt paid longer ago than this earns by no promotion
AHEAD_DAYS = 7  # GET /api/v1/promotions: on now and in the next 7 days


def _invalid(message: str, field: str, problem: str) -> AppError:
    return AppError("request.invalid", message=message, details={field: [problem]})


def _check(session: Session, fields: dict) -> None:
    """422 for both weekdays and month_days, an empty window, tiers the points program does not
    have and stores that do not exist (ranges and the multiplier are the schema's)."""
    if fields.get("weekdays") and fields.get("month_days"):
        raise _invalid("Weekdays or days of the month, not both.", "month_days",
                       "Leave it out when weekdays are set.")  # fmt: skip
    if fields["ends_at"] <= fields["starts_at"]:
        raise _invalid("The promotion's window is empty.", "ends_at", "After starts_at.")
    known = {t["code"] for t in points_program.tiers(points_program.config(session))}
    unknown = sorted(set(fields.get("tiers") or ()) - known)
    if unknown:
        raise _invalid("The promotion names tiers the points program does not have.", "tiers",
                       f"Unknown tier: {', '.join(unknown)}.")  # fmt: skip
    store_ids = set(fields.get("store_ids") or ())
    if store_ids:
        found = set(session.scalars(select(Store.id).where(Store.id.in_(store_ids))))
        if store_ids - found:
            missing = ", ".join(str(s) for s in sorted(store_ids - found))
            raise _invalid("The promotion names stores that do not exist.", "store_ids",
                           f"Unknown store: {missing}.")  # fmt: skip


def _audited(values: dict) -> dict:
    def plain(value):
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    return {k: plain(v) for k, v in values.items()}


def get_promotion(session: Session, promotion_id: int) -> Promotion:
    promotion = session.get(Promotion, promotion_id, populate_existing=True)
    if promotion is None:
        raise AppError("not_found", message="No such promotion.")
    return promotion


def list_promotions(session: Session, limit: int, cursor) -> pagination.Page:
    """Every promotion, newest first, stopped ones too."""
    return pagination.page(session, select(Promotion), Promotion.id, limit, cursor)


def create_promotion(session: Session, fields: dict, staff: Staff) -> Promotion:
    """A new promotion (validated by the schema, then by _check); audited."""
    _check(session, fields)
    promotion = Promotion(**fields, created_by=staff.id)
    session.add(promotion)
    session.flush()
    audit.record(session, staff, "promotion.create", "promotion", promotion.id, _audited(fields))
    session.commit()
    programs.forget_cached()
    return promotion


def update_promotion(session: Session, promotion_id: int, changes: dict, staff: Staff):
    """Change a promotion (from now on: purchases already recorded keep what they earned)."""
    promotion = get_promotion(session, promotion_id)
    merged = {name: changes.get(name, getattr(promotion, name)) for name in MUTABLE}
    _check(session, merged)
    for name in MUTABLE:
        if name in changes:
            setattr(promotion, name, changes[name])
    audit.record(session, staff, "promotion.update", "promotion", promotion_id, _audited(changes))
    session.commit()
    programs.forget_cached()
    session.refresh(promotion)
    return promotion


def applies_on(promotion, day: date) -> bool:
    """Whether the promotion's days include business day `day` (its window aside)."""
    if promotion.weekdays:
        return day.isoweekday() in promotion.weekdays
    if promotion.month_days:
        return day.day in promotion.month_days
    return True


def _percent(multiplier) -> int:
    return int(Decimal(multiplier) * 100)


def promotion_bonus(
    session: Session,
    cfg: dict,
    *,
    store_id: int,
    tier_code: str,
    paid_at: datetime,
    amount_fen: int,
    payable_fen: int,
    base_points: int,
    lines: list[dict] | None,
) -> list[tuple[Offer, int]]:
    """The promotion this purchase earns by and its extra points ([] or one pair): the active
    promotions whose window holds paid_at, on its business day, at its store, for the member's
    tier and (with categories) with lines of those categories; the highest multiplier wins."""
    if base_points <= 0 or amount_fen <= 0:
        return []
    day = clock.business_date(paid_at)
    best: tuple[tuple, Offer, int] | None = None
    for promotion in programs.cached(session, "promotions", _active):
        if not promotion.starts_at <= paid_at < promotion.ends_at:
            continue
        if not applies_on(promotion, day):
            continue
        if promotion.store_ids and store_id not in promotion.store_ids:
            continue
        if promotion.tiers and tier_code not in promotion.tiers:
            continue
        portion = base_points
        if promotion.categories:
            matching = sum(
                line["amount_fen"]
                for line in lines or ()
                if line.get("category") in promotion.categories
            )
            if matching <= 0:
                continue
            share = max(payable_fen, 0) * matching // amount_fen
            portion = points_program.purchase_points(cfg, share, tier_code)
        extra = portion * (_percent(promotion.multiplier) - 100) // 100
        if extra <= 0:
            continue
        rank = (_percent(promotion.multiplier), extra, -promotion.id)
        if best is None or rank > best[0]:
            best = (rank, promotion, extra)
    return [] if best is None else [(best[1], best[2])]


class Offer(NamedTuple):
    """A promotion as the till reads it (plain values: cached between purchases)."""

    id: int
    name: str
    multiplier: Decimal
    weekdays: list | None
    month_days: list | None
    starts_at: datetime
    ends_at: datetime
    store_ids: list | None
    tiers: list | None
    categories: list | None


def _active(session: Session) -> list[Offer]:
    """The promotions switched on that ended at most BACKDATED_DAYS ago (a receipt sent late
    still earns by the promotion of its day), cached: every purchase reads them; a change is
    seen at once by this process, within programs.CACHE_SECONDS by the others."""
    rows = session.execute(
        select(*(getattr(Promotion, name) for name in Offer._fields)).where(
            Promotion.is_active.is_(True),
            Promotion.ends_at > clock.now() - timedelta(days=BACKDATED_DAYS),
        )
    ).all()
    return [Offer(*row) for row in rows]


def record_bonus(session: Session, purchase_id: int, applied: list[tuple[Offer, int]]):
    """What the purchase got from its promotion, kept for its answer (a replay says the same)."""
    if applied:
        session.execute(
            insert(PurchasePromotion),
            [
                {"purchase_id": purchase_id, "promotion_id": p.id, "points": points}
                for p, points in applied
            ],
        )


def as_answer(applied: list[tuple[Offer, int]]) -> list[dict]:
    return [{"id": p.id, "name": p.name, "points": points} for p, points in applied]


def applied_to(session: Session, purchase_id: int) -> list[dict]:
    """The purchase answer's `promotions` of a recorded purchase."""
    rows = session.execute(
        select(Promotion.id, Promotion.name, PurchasePromotion.points)
        .join(PurchasePromotion, PurchasePromotion.promotion_id == Promotion.id)
        .where(PurchasePromotion.purchase_id == purchase_id)
        .order_by(Promotion.id)
    ).all()
    return [{"id": r.id, "name": r.name, "points": r.points} for r in rows]


def promotions_for_member(session: Session, member_id: int, now: datetime) -> list[dict]:
    """The promotions on now or in the next 7 days for the member's tier, each with the
    business days (from today, 7 days on) it applies; those with no day left are left out."""
    member = session.get(Member, member_id)
    if member is None or member.closed_at is not None:
        raise AppError("member.not_found")
    today = clock.business_date(now)
    horizon = clock.business_day_end(today + timedelta(days=AHEAD_DAYS - 1))
    found = session.scalars(
        select(Promotion)
        .where(
            Promotion.is_active.is_(True),
            Promotion.starts_at < horizon,
            Promotion.ends_at > now,
        )
        .order_by(Promotion.starts_at, Promotion.id)
    ).all()
    offered = []
    for promotion in found:
        if promotion.tiers and member.tier_code not in promotion.tiers:
            continue
        days = [
            day
            for day in (today + timedelta(days=n) for n in range(AHEAD_DAYS))
            if applies_on(promotion, day)
            and promotion.starts_at < clock.business_day_end(day)
            and promotion.ends_at > max(clock.business_day_start(day), now)
        ]
        if days:
            offered.append(
                {
                    **{name: getattr(promotion, name) for name in ("id", *MUTABLE)},
                    "days": days,
                    "on_now": days[0] == today and promotion.starts_at <= now,
                }
            )
    return offered
