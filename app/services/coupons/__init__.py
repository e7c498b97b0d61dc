"""Coupons: issuing a coupon of a template to a member (every channel goes through
`issue_coupon`), what members can claim and hold, and what the till shows.

Stock and the per-member limit are decided by the database: a conditional increment of the
member's holding (`count < limit_per_member`) and of the template (`issued < stock_total`), both
in the caller's transaction. A refusal undoes what this call did, so the caller's transaction is
left clean and can go on (a push to a list skips the member; a draw gives no prize).
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Date, and_, bindparam, or_, select, text, update
from sqlalchemy.orm import Session, joinedload, selectinload

from app import clock
from app.errors import AppError
from app.models import Member
from app.models.base import UTCDateTime, in_transaction
from app.models.coupons import (
    COUPON_SOURCES,
    STOCK_SHARDS,
    Coupon,
    CouponHolding,
    CouponTemplate,
)
from app.services import pagination
from app.services.identifiers import CROCKFORD
from app.services.ledger import points_program
from app.unit_of_work import folded_key_claim, is_atomic

CODE_LENGTH = 16  # 16 Crockford characters: 80 random bits, hopeless to guess


def new_coupon_code() -> str:
    bits = int.from_bytes(secrets.token_bytes(CODE_LENGTH * 5 // 8))  # 5 bits a character
    return "".join(CROCKFORD[(bits >> (5 * i)) & 31] for i in range(CODE_LENGTH))


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


# The last instant of a business day: its end (the next midnight) less the smallest step of a
# PostgreSQL timestamp.
LAST_INSTANT = timedelta(microseconds=1)


def validity(template: CouponTemplate, now: datetime) -> tuple[datetime, datetime]:
    """When a coupon issued now can be used: the template's fixed dates, or from now to the end
    of the Nth business day counting today as day 1 (the claim's statement says the same in SQL;
    the bulk push gives every coupon of a batch these). One rule for both (issue 16): valid_until
    is the last instant it can be used, inclusive -- 23:59:59.999999 of its last business day
    for a relative coupon; a coupon is expired once now > valid_until."""
    if template.validity_mode == "fixed":
        return template.valid_from, template.valid_until
    last_day = clock.business_date(now) + timedelta(days=template.valid_days - 1)
    return now, clock.business_day_end(last_day) - LAST_INSTANT


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


# Issuing is one statement. It reads the template (no lock: claims never queue on its row) and
# refuses what is not offered; takes a stock shard with stock left -- the first one no other
# claim holds, from a random start, else waits for one (a shard that ran out meanwhile is passed
# over for the next); counts the coupon against the member's limit (`count < limit`); inserts the
# coupon; and counts it on the shard. Each write reads the RETURNING of the one before, so a
# refusal writes nothing, and the shard it counts on is the one it locked with stock left (the
# shard's CHECK issued <= stock is the guard of last resort). A coupon's ref that another
# transaction inserted meanwhile (two pushes of one list at once) inserts nothing after the
# holding and before the shard: issue_coupon uncounts the holding then (claims' refs are new).
# {key} and {guard}: an Idempotency-Key's claim folded in (unit_of_work.KeyClaim), or nothing.
_ISSUE = f"""
    WITH {{key}} template AS MATERIALIZED (
        SELECT id, is_active, claimable, claim_starts_at, claim_ends_at, audience,
               limit_per_member, name, description, kind, amount_off_fen, threshold_fen,
               percent_off, max_discount_fen,
               CASE WHEN validity_mode = 'fixed' THEN valid_from ELSE :now END AS coupon_from,
               CASE WHEN validity_mode = 'fixed' THEN valid_until
                    ELSE CAST(CAST(:today AS date) + valid_days AS timestamp) AT TIME ZONE :tz
                         - interval '1 microsecond'
               END AS coupon_until
        FROM coupon_templates WHERE id = :tid {{guard}}
    ), refusal AS MATERIALIZED (
        SELECT CASE
            WHEN NOT is_active THEN 'offered'
            WHEN coupon_until < :now THEN 'usable'
            WHEN :claim AND NOT (claimable AND (claim_starts_at IS NULL OR claim_starts_at <= :now)
                                 AND (claim_ends_at IS NULL OR :now < claim_ends_at)) THEN 'window'
            WHEN :claim AND audience <> 'all' AND NOT :audience_ok THEN 'audience'
        END AS reason
        FROM template
    ), shard AS MATERIALIZED (
        SELECT COALESCE(
            (SELECT shard FROM coupon_stock_shards
             WHERE template_id = :tid AND issued < stock
             ORDER BY (shard + :start) % {STOCK_SHARDS} LIMIT 1 FOR UPDATE SKIP LOCKED),
            (SELECT shard FROM coupon_stock_shards
             WHERE template_id = :tid AND issued < stock
             ORDER BY (shard + :start) % {STOCK_SHARDS} LIMIT 1 FOR UPDATE)
        ) AS shard
        FROM refusal WHERE reason IS NULL
    ), holding AS (
        INSERT INTO coupon_holdings AS h (template_id, member_id, count)
        SELECT :tid, :mid, 1 FROM shard WHERE shard IS NOT NULL
        ON CONFLICT (template_id, member_id) DO UPDATE SET count = h.count + 1
        WHERE h.count < (SELECT limit_per_member FROM template)
        RETURNING count
    ), coupon AS (
        INSERT INTO coupons (code, template_id, member_id, source, ref, status, valid_from,
                             valid_until, created_at)
        SELECT :code, :tid, :mid, :source, :ref, 'unused', coupon_from, coupon_until, :now
        FROM template, holding
        ON CONFLICT (ref) DO NOTHING
        RETURNING id, code, valid_from, valid_until
    ), took AS (
        UPDATE coupon_stock_shards s SET issued = s.issued + 1
        FROM shard, coupon
        WHERE s.template_id = :tid AND s.shard = shard.shard
        RETURNING s.shard
    )
    SELECT template.id, refusal.reason, shard.shard, holding.count, coupon.id, coupon.code,
           coupon.valid_from,
           coupon.valid_until, template.limit_per_member, template.name, template.description,
           template.kind, template.amount_off_fen, template.threshold_fen, template.percent_off,
           template.max_discount_fen {{key_columns}}
    FROM (SELECT 1) one
    LEFT JOIN template ON true LEFT JOIN refusal ON true LEFT JOIN shard ON true
    LEFT JOIN holding ON true LEFT JOIN coupon ON true LEFT JOIN took ON true {{key_join}}
"""
_TYPES = (bindparam("now", type_=UTCDateTime()), bindparam("today", type_=Date()))


@functools.cache
def _issue_statement(key_ctes: str | None = None):
    if key_ctes is None:
        sql = _ISSUE.format(key="", guard="", key_columns="", key_join="")
    else:
        sql = _ISSUE.format(
            key=key_ctes + ",",
            guard="AND EXISTS (SELECT FROM key_claimed WHERE id IS NOT NULL)",
            key_columns=", key_claimed.got, key_claimed.id",
            key_join="LEFT JOIN key_claimed ON true",
        )
    return text(sql).bindparams(*_TYPES)


@functools.cache
def _issue_sql(dialect) -> str:
    """_ISSUE as the driver's SQL (named parameters, typed casts), compiled once."""
    return str(_issue_statement().compile(dialect=dialect))


class _Issued(NamedTuple):
    template_id: int | None
    refusal: str | None
    shard: int | None
    held: int | None
    coupon_id: int | None
    code: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    limit_per_member: int | None
    name: str | None
    description: str | None
    kind: str | None
    amount_off_fen: int | None
    threshold_fen: int | None
    percent_off: int | None
    max_discount_fen: int | None


def _issue_params(template_id, member_id, source, ref, now, audience_ok) -> dict:
    return {
        "tid": template_id,
        "mid": member_id,
        "now": now,
        "today": clock.business_date(now),
        "tz": clock.business_tz().key,
        "start": secrets.randbelow(STOCK_SHARDS),
        "code": new_coupon_code(),
        "source": source,
        "ref": ref,
        "claim": source == "claim",
        "audience_ok": audience_ok,
    }


def _run_issue(session: Session, params: dict, autocommit: bool) -> _Issued:
    """The statement: in the caller's transaction (with a folded key's claim, if one is left),
    or, for a claim without a key, as its own transaction on a pooled connection."""
    claim = folded_key_claim(session)
    if claim is not None and not claim.ran:
        row = session.execute(_issue_statement(claim.ctes), {**params, **claim.params}).one()
        claim.record(row[-2], row[-1])  # KeyTaken: the key was not got; nothing ran
        return _issued(row[:-2])
    if not autocommit or is_atomic(session):
        return _issued(session.execute(_issue_statement(), params).one())
    if in_transaction(session):
        session.commit()  # what came before (a read of the points program, say) ends here
    # One statement is its own transaction: without BEGIN and COMMIT it is one round trip, and
    # the shard's lock is held for the statement alone. Driver SQL compiled once, as check-in's
    # (the ORM's and the compiler's machinery cost more CPU than the statement); its bind
    # processing skipped, so UTCDateTime's rule (aware instants, in UTC) is applied here.
    engine = session.get_bind()
    driver = {**params, "now": UTCDateTime().process_bind_param(params["now"], engine.dialect)}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return _issued(connection.exec_driver_sql(_issue_sql(engine.dialect), driver).one())


def _issued(row) -> _Issued:
    issued = _Issued(*row)
    if issued.valid_from is None:
        return issued
    instant = UTCDateTime().process_result_value  # aware, in UTC, as the ORM gives them
    return issued._replace(
        valid_from=instant(issued.valid_from, None), valid_until=instant(issued.valid_until, None)
    )


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
    now = now or clock.now()
    issued = _issue(session, template_id, member_id, source, ref, now, autocommit=False)
    if issued.coupon_id is None:
        # The same ref won in another transaction just now: this one counted the holding only.
        _uncount_holding(session, template_id, member_id)
        return _by_ref(session, ref)
    return session.get(Coupon, issued.coupon_id)


def _issue(session, template_id, member_id, source, ref, now, autocommit) -> _Issued:
    """The statement, and its refusals as AppErrors; a coupon, or (for a ref another transaction
    inserted meanwhile) its holding counted and no coupon."""
    params = _issue_params(template_id, member_id, source, ref, now, audience_ok=False)
    issued = _run_issue(session, params, autocommit)
    if issued.refusal == "audience":
        # Tiers and new members are Python's rules (the points program's tiers): checked here,
        # then the statement runs again, told so.
        template = session.get(CouponTemplate, template_id)
        member = session.get(Member, member_id)
        if member is None:
            raise AppError("member.not_found")
        if not in_audience(session, template, member, now):
            raise _not_claimable("This coupon is for other members.")
        issued = _run_issue(session, {**params, "audience_ok": True}, autocommit)
    if issued.template_id is None:
        raise AppError("coupon.not_found")
    if issued.refusal == "offered":
        raise _not_claimable("This coupon is no longer offered.")
    if issued.refusal == "usable":
        raise _not_claimable("This coupon can no longer be used.")
    if issued.refusal in ("window", "audience"):
        raise _not_claimable("This coupon cannot be claimed now.")
    if issued.shard is None:
        raise AppError("coupon.out_of_stock")
    if issued.held is None:
        # Waiting for the holding's lock may have been waiting for this very ref's coupon.
        existing = _by_ref(session, ref) if source != "claim" else None
        if existing is not None:
            return issued._replace(coupon_id=existing.id)
        raise AppError(
            "coupon.limit_reached",
            message=f"At most {issued.limit_per_member} of this coupon per member.",
            details={"limit_per_member": issued.limit_per_member},
        )
    return issued


def _uncount_holding(session: Session, template_id: int, member_id: int) -> None:
    session.execute(
        update(CouponHolding)
        .where(CouponHolding.template_id == template_id, CouponHolding.member_id == member_id)
        .values(count=CouponHolding.count - 1)
    )


def claim(session: Session, member_id: int, template_id: int, now=None) -> ClaimedCoupon:
    """A member claims a coupon in the mini-program (one use case, one statement: without an
    Idempotency-Key its own transaction; with one, the caller's, which commits the answer)."""
    now = now or clock.now()
    ref = f"claim:{template_id}:{member_id}:{secrets.token_hex(8)}"  # new by construction
    issued = _issue(session, template_id, member_id, "claim", ref, now, autocommit=True)
    # The answer, built from the statement's RETURNING, outside any lock and session (plain
    # objects: the ORM's instrumented ones cost more CPU than the statement, for a dump).
    template = TemplateBrief(
        template_id,
        issued.name,
        issued.description,
        issued.kind,
        issued.amount_off_fen,
        issued.threshold_fen,
        issued.percent_off,
        issued.max_discount_fen,
    )
    return ClaimedCoupon(
        issued.coupon_id, issued.code, template, issued.valid_from, issued.valid_until, now
    )


@dataclass(frozen=True, slots=True)
class TemplateBrief:
    """What a coupon's answer says of its template (CouponTemplateBriefSchema)."""

    id: int
    name: str
    description: str
    kind: str
    amount_off_fen: int
    threshold_fen: int
    percent_off: int
    max_discount_fen: int | None


@dataclass(frozen=True, slots=True)
class ClaimedCoupon:
    """A coupon just claimed, as its answer dumps it (CouponSchema)."""

    id: int
    code: str
    template: TemplateBrief
    valid_from: datetime
    valid_until: datetime
    created_at: datetime
    status: str = "unused"
    source: str = "claim"
    used_at: datetime | None = None


def coupon_status(coupon: Coupon, now: datetime) -> str:
    """unused, used, or expired (an unused coupon whose last moment has passed)."""
    if coupon.status == "unused" and coupon.valid_until < now:
        return "expired"
    return coupon.status


def offer_status(template: CouponTemplate, now: datetime) -> str:
    """What the console calls a template now: `stopped` (switched off), `upcoming` (its claim
    window has not opened), `ended` (closed), `sold_out` (every coupon issued), else `offered`."""
    if not template.is_active:
        return "stopped"
    if template.claim_starts_at is not None and now < template.claim_starts_at:
        return "upcoming"
    if template.claim_ends_at is not None and now >= template.claim_ends_at:
        return "ended"
    if template.stock_left <= 0:
        return "sold_out"
    return "offered"


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
        query = query.where(Coupon.status == "unused", Coupon.valid_until >= now)
    elif status == "expired":
        query = query.where(Coupon.status == "unused", Coupon.valid_until < now)
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
            or_(CouponTemplate.valid_until.is_(None), CouponTemplate.valid_until >= now),
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
                Coupon.valid_until >= now,
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
