"""Coupons: issuing a coupon of a template to a member (every channel goes through
`issue_coupon`), what members can claim and hold, and what the till shows.

Stock and the per-member limit are decided by the database: a conditional increment of the
member's holding (`count < limit_per_member`) and of the template (`issued < stock_total`), both
in the caller's transaction. A refusal undoes what this call did, so the caller's transaction is
left clean and can go on (a push to a list skips the member; a draw gives no prize).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app import clock
from app.errors import AppError
from app.models import Member
from app.models.coupons import COUPON_SOURCES, Coupon, CouponHolding, CouponTemplate
from app.services import pagination
from app.services.identifiers import CROCKFORD
from app.services.ledger import points_program

CODE_LENGTH = 16  # 16 Crockford characters: 80 random bits, hopeless to guess


def new_coupon_code() -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(CODE_LENGTH))


def yuan(fen: int) -> str:
    """Fen as yuan for display: 2000 -> "20", 1990 -> "19.9"."""
    whole, rest = divmod(fen, 100)
    return str(whole) if rest == 0 else f"{fen / 100:.2f}".rstrip("0")


def describe(template: CouponTemplate) -> str:
    """The coupon's value as a shopper reads it: 满100减20, 立减10元, 8折 最高减50元."""
    if template.kind == "threshold_off":
        return f"满{yuan(template.threshold_fen)}减{yuan(template.amount_off_fen)}"
    if template.kind == "amount_off":
        return f"立减{yuan(template.amount_off_fen)}元"
    tenths = 100 - template.percent_off  # 20% off is 8折, 15% off is 8.5折
    text = f"{tenths // 10}折" if tenths % 10 == 0 else f"{tenths / 10:g}折"
    if template.threshold_fen:
        text = f"满{yuan(template.threshold_fen)}享{text}"
    if template.max_discount_fen:
        text += f" 最高减{yuan(template.max_discount_fen)}元"
    return text


def discount_for(template: CouponTemplate, order_amount_fen: int) -> int:
    """The discount on an order of this amount (threshold already checked). Percent discounts
    round down to the fen (the shop keeps the fraction) and stop at the cap; no discount ever
    exceeds the order."""
    if template.kind == "percent_off":
        discount = order_amount_fen * template.percent_off // 100
        if template.max_discount_fen:
            discount = min(discount, template.max_discount_fen)
    else:
        discount = template.amount_off_fen
    return max(0, min(discount, order_amount_fen))


def validity(template: CouponTemplate, now: datetime) -> tuple[datetime, datetime]:
    """When a coupon issued now can be used: the template's fixed dates, or from now to the end
    of the Nth business day counting today as day 1."""
    if template.validity_mode == "fixed":
        return template.valid_from, template.valid_until
    last_day = clock.business_date(now) + timedelta(days=template.valid_days - 1)
    return now, clock.business_day_end(last_day)


def _by_ref(session: Session, ref: str) -> Coupon | None:
    return session.execute(select(Coupon).where(Coupon.ref == ref)).scalar_one_or_none()


def _not_claimable(message: str) -> AppError:
    return AppError("coupon.not_claimable", message=message)


def in_audience(session: Session, template: CouponTemplate, member: Member, now) -> bool:
    """Whether the template's audience includes the member (all, some tiers, new members)."""
    if template.audience == "new_members":
        return member.joined_at >= now - timedelta(days=template.new_member_days)
    if template.audience == "tiers":
        tier = points_program.tier_for(points_program.config(session), member.tier_code)
        return tier["code"] in (template.audience_tiers or [])
    return True


def _in_claim_window(template: CouponTemplate, now: datetime) -> bool:
    starts, ends = template.claim_starts_at, template.claim_ends_at
    return (starts is None or starts <= now) and (ends is None or now < ends)


def issue_coupon(
    session: Session,
    template_id: int,
    member_id: int,
    *,
    source: str,
    ref: str,
    now: datetime | None = None,
) -> Coupon:
    """Give the member one coupon of the template for a reason (`ref`, unique: the same ref
    returns the first coupon). Stock and the per-member limit hold under any concurrency; a
    member claiming in the mini-program must also be inside the claim window and the audience.
    Refusals are 409 coupon.out_of_stock / coupon.limit_reached / coupon.not_claimable.
    Flushes, never commits."""
    if source not in COUPON_SOURCES:
        raise ValueError(f"unknown coupon source {source!r}")
    existing = _by_ref(session, ref)
    if existing is not None:
        return existing
    return _issue_new(session, template_id, member_id, source, ref, now or clock.now())


def _issue_new(session, template_id: int, member_id: int, source: str, ref: str, now) -> Coupon:
    """issue_coupon for a ref not seen before (a claim's ref is random, so it skips the look-up)."""
    template = session.get(CouponTemplate, template_id, populate_existing=True)
    if template is None:
        raise AppError("coupon.not_found")
    if not template.is_active:
        raise _not_claimable("This coupon is no longer offered.")
    valid_from, valid_until = validity(template, now)
    if valid_until <= now:
        raise _not_claimable("This coupon can no longer be used.")
    if source == "claim":
        if not template.claimable or not _in_claim_window(template, now):
            raise _not_claimable("This coupon cannot be claimed now.")
        if template.audience != "all":
            member = session.get(Member, member_id)
            if member is None:
                raise AppError("member.not_found")
            if not in_audience(session, template, member, now):
                raise _not_claimable("This coupon is for other members.")
    if template.issued >= template.stock_total:
        # Sold out as of this read: refusing needs no lock (stock only ever comes back by a
        # marketer raising it, and then the next claim sees it).
        raise _out_of_stock()
    if not _count_holding(session, template, member_id):
        # Waiting for the holding's lock may have been waiting for this very ref's coupon.
        existing = _by_ref(session, ref) if not ref.startswith("claim:") else None
        if existing is not None:
            return existing
        raise AppError(
            "coupon.limit_reached",
            message=f"At most {template.limit_per_member} of this coupon per member.",
            details={"limit_per_member": template.limit_per_member},
        )
    coupon = _insert_coupon(
        session,
        {
            "code": new_coupon_code(),
            "template_id": template_id,
            "member_id": member_id,
            "source": source,
            "ref": ref,
            "status": "unused",
            "valid_from": valid_from,
            "valid_until": valid_until,
            "created_at": now,
        },
    )
    if coupon is None:  # the same ref won in another transaction just now
        _uncount_holding(session, template_id, member_id)
        return _by_ref(session, ref)
    # Last, so that the hot row (every claim of a flash coupon) stays locked only until the
    # caller commits.
    took = session.execute(
        update(CouponTemplate)
        .where(CouponTemplate.id == template_id, CouponTemplate.issued < CouponTemplate.stock_total)
        .values(issued=CouponTemplate.issued + 1)
        .returning(CouponTemplate.issued)
    ).scalar_one_or_none()
    if took is None:
        session.execute(delete(Coupon).where(Coupon.id == coupon.id))
        session.expunge(coupon)
        _uncount_holding(session, template_id, member_id)
        raise _out_of_stock()
    set_committed_value(template, "issued", took)
    return coupon


def _uncount_holding(session: Session, template_id: int, member_id: int) -> None:
    session.execute(
        update(CouponHolding)
        .where(CouponHolding.template_id == template_id, CouponHolding.member_id == member_id)
        .values(count=CouponHolding.count - 1)
    )


def _out_of_stock() -> AppError:
    return AppError("coupon.out_of_stock")


def _insert_coupon(session: Session, values: dict) -> Coupon | None:
    """INSERT the coupon unless its ref exists (then None), returning the ORM object."""
    stmt = (
        insert(Coupon)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["ref"])
        .returning(Coupon)
    )
    return session.scalars(stmt).one_or_none()


def _count_holding(session: Session, template: CouponTemplate, member_id: int) -> bool:
    """Count one more coupon of the template for the member unless they hold the limit."""
    upsert = (
        insert(CouponHolding)
        .values(template_id=template.id, member_id=member_id, count=1)
        .on_conflict_do_update(
            index_elements=["template_id", "member_id"],
            set_={"count": CouponHolding.count + 1},
            where=CouponHolding.count < template.limit_per_member,
        )
        .returning(CouponHolding.count)
    )
    return session.execute(upsert).scalar_one_or_none() is not None


def claim(session: Session, member_id: int, template_id: int, now=None) -> Coupon:
    """A member claims a coupon in the mini-program (one use case; the caller commits)."""
    now = now or clock.now()
    ref = f"claim:{template_id}:{member_id}:{secrets.token_hex(8)}"  # new by construction
    coupon = _issue_new(session, template_id, member_id, "claim", ref, now)
    _keep_for_the_answer(session, coupon)
    return coupon


def _keep_for_the_answer(session: Session, coupon: Coupon) -> None:
    """Detach the new coupon and its template, loaded, so that the caller's commit does not
    expire them and dumping the answer reads no row again (a flash
    sale claims thousands a minute)."""
    template = coupon.template
    session.expunge(coupon)
    session.expunge(template)


def coupon_status(coupon: Coupon, now: datetime) -> str:
    """unused, used, or expired (an unused coupon whose last moment has passed)."""
    if coupon.status == "unused" and coupon.valid_until <= now:
        return "expired"
    return coupon.status


class ClaimableTemplate(NamedTuple):
    """A template the member can claim now, and how many of it they already hold."""

    template: CouponTemplate
    claimed_by_me: int


def my_coupons(
    session: Session, member_id: int, status: str | None, limit: int, cursor, now=None
) -> pagination.Page:
    """The member's coupons, newest first, optionally only unused, used or expired ones."""
    now = now or clock.now()
    query = (
        select(Coupon).where(Coupon.member_id == member_id).options(selectinload(Coupon.template))
    )
    if status == "unused":
        query = query.where(Coupon.status == "unused", Coupon.valid_until > now)
    elif status == "expired":
        query = query.where(Coupon.status == "unused", Coupon.valid_until <= now)
    elif status == "used":
        query = query.where(Coupon.status == "used")
    return pagination.page(session, query, Coupon.id, limit, cursor)


def available(session: Session, member_id: int, now=None) -> list[ClaimableTemplate]:
    """Templates the member can claim now: offered, in their claim window and the member's
    audience, still usable; with how many the member already has."""
    now = now or clock.now()
    member = session.get(Member, member_id)
    if member is None:
        raise AppError("member.not_found")
    rows = session.execute(
        select(CouponTemplate, CouponHolding.count)
        .outerjoin(
            CouponHolding,
            and_(
                CouponHolding.template_id == CouponTemplate.id,
                CouponHolding.member_id == member_id,
            ),
        )
        .where(
            CouponTemplate.is_active.is_(True),
            CouponTemplate.claimable.is_(True),
            or_(CouponTemplate.claim_starts_at.is_(None), CouponTemplate.claim_starts_at <= now),
            or_(CouponTemplate.claim_ends_at.is_(None), CouponTemplate.claim_ends_at > now),
            or_(CouponTemplate.valid_until.is_(None), CouponTemplate.valid_until > now),
        )
        .order_by(CouponTemplate.id.desc())
    ).all()
    return [
        ClaimableTemplate(t, held or 0) for t, held in rows if in_audience(session, t, member, now)
    ]


def usable_now(session: Session, member_id: int, now: datetime) -> list[Coupon]:
    """What the till shows: the member's unused coupons usable right now, soonest ending first."""
    return list(
        session.execute(
            select(Coupon)
            .where(
                Coupon.member_id == member_id,
                Coupon.status == "unused",
                Coupon.valid_from <= now,
                Coupon.valid_until > now,
            )
            .options(joinedload(Coupon.template))
            .order_by(Coupon.valid_until, Coupon.id)
            .limit(50)
        ).scalars()
    )


def give_signup_gifts(session: Session, member: Member, now=None) -> int:
    """Every active sign-up gift template, once per new member; a gift that ran out is skipped."""
    now = now or clock.now()
    ids = session.execute(
        select(CouponTemplate.id).where(
            CouponTemplate.is_active.is_(True), CouponTemplate.signup_gift.is_(True)
        )
    ).scalars()
    given = 0
    for template_id in ids.all():
        try:
            issue_coupon(
                session,
                template_id,
                member.id,
                source="signup",
                ref=f"signup:{template_id}:{member.id}",
                now=now,
            )
            given += 1
        except AppError:
            continue  # out of stock or ended: the new member simply gets no such gift
    return given
