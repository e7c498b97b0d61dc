"""Marketing's side of coupons: designing templates and pushing a template to members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member, Staff
from app.models.base import insert_ignore
from app.models.coupons import Coupon, CouponPush, CouponTemplate
from app.services import pagination
from app.services.coupons import issue_coupon
from app.services.ledger import points_program
from app.services.staff import audit
from app.services.stock_shards import ShardedStock

# What can change after coupons exist: never what a coupon is worth or when it is valid, since
# coupons already held point at the template.
MUTABLE = (
    "name",
    "description",
    "claim_starts_at",
    "claim_ends_at",
    "limit_per_member",
    "audience",
    "audience_tiers",
    "new_member_days",
    "claimable",
    "signup_gift",
    "is_active",
)
MAX_PUSH = 1000


def check_template_exists(session: Session, template_id: int | None) -> None:
    """422 for a coupon template that is not there (None names none): a campaign or a program
    naming it would give every member nothing."""
    if template_id is not None and session.get(CouponTemplate, template_id) is None:
        raise AppError(
            "request.invalid",
            message="No such coupon template.",
            details={"coupon_template_id": ["Unknown coupon template."]},
        )


def _check_tiers(session: Session, codes: list[str] | None) -> None:
    """422 for a tier the points program does not have: nobody could ever claim for it."""
    known = {t["code"] for t in points_program.tiers(points_program.config(session))}
    unknown = sorted(set(codes or ()) - known)
    if unknown:
        raise AppError(
            "request.invalid",
            message="The template names tiers the points program does not have.",
            details={"audience_tiers": [f"Unknown tier: {code}." for code in unknown]},
        )


def create_template(session: Session, fields: dict, staff: Staff) -> CouponTemplate:
    """A new coupon template (fields already validated by the schema; tiers the program's)."""
    _check_tiers(session, fields.get("audience_tiers"))
    template = CouponTemplate(**fields, created_by=staff.id)
    session.add(template)
    session.flush()
    audit.record(session, staff, "coupon_template.create", "coupon_template", template.id, {})
    session.commit()
    return template


def get_template(session: Session, template_id: int) -> CouponTemplate:
    template = session.get(CouponTemplate, template_id)
    if template is None:
        raise AppError("coupon.not_found", message="No such coupon template.")
    return template


def list_templates(session: Session, limit: int, cursor) -> pagination.Page:
    """Every coupon template, newest first."""
    return pagination.page(session, select(CouponTemplate), CouponTemplate.id, limit, cursor)


def update_template(
    session: Session, template_id: int, changes: dict, staff: Staff
) -> CouponTemplate:
    """Change a template's offer (not its value or validity); the stock can be raised, or
    lowered down to what was already issued (409 coupon.stock_below_issued)."""
    template = get_template(session, template_id)
    if "audience_tiers" in changes:
        _check_tiers(session, changes["audience_tiers"])
    if "stock_total" in changes:
        _change_stock(session, template_id, changes["stock_total"])
    for field in MUTABLE:
        if field in changes:
            setattr(template, field, changes[field])
    logged = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in changes.items()}
    audit.record(session, staff, "coupon_template.update", "coupon_template", template_id, logged)
    session.commit()
    session.refresh(template)
    return template


_STOCK = ShardedStock("coupon_stock_shards", "template_id", "issued", "coupon_templates")


def _change_stock(session: Session, template_id: int, total: int) -> None:
    """Set the template's stock to `total`: 409 coupon.stock_below_issued below what was issued."""
    issued = _STOCK.change_stock(session, template_id, total)
    if issued is not None:
        raise AppError(
            "coupon.stock_below_issued",
            message="The stock cannot be lower than the coupons already issued.",
            details={"issued": issued},
        )


def push_template(
    session: Session, template_id: int, push_key: str, member_ids: list[int], staff: Staff, now=None
) -> dict:
    """Give one coupon of the template to each listed member. The push key makes the push
    idempotent: sending it again gives nobody a second coupon. Members the stock or the limit
    refuse are listed with the reason; the others keep theirs."""
    now = now or clock.now()
    get_template(session, template_id)
    wanted = list(dict.fromkeys(member_ids))[:MAX_PUSH]
    refs = {m: f"push:{template_id}:{push_key}:{m}" for m in wanted}
    already = set(
        session.execute(select(Coupon.member_id).where(Coupon.ref.in_(refs.values()))).scalars()
    )
    known = set(session.execute(select(Member.id).where(Member.id.in_(wanted))).scalars())
    issued, refused = 0, {}
    for member_id in wanted:
        if member_id in already:
            continue
        if member_id not in known:
            refused[str(member_id)] = "member.not_found"
            continue
        try:
            issue_coupon(
                session, template_id, member_id, source="push", ref=refs[member_id], now=now
            )
            issued += 1
        except AppError as err:
            refused[str(member_id)] = err.code
    insert_ignore(
        session,
        CouponPush,
        {
            "template_id": template_id,
            "push_key": push_key,
            "staff_id": staff.id,
            "requested": len(wanted),
            "issued": issued,
            "refused": refused,
            "created_at": now,
        },
        "template_id",
        "push_key",
    )
    audit.record(
        session,
        staff,
        "coupon_template.push",
        "coupon_template",
        template_id,
        {"push_key": push_key, "requested": len(wanted), "issued": issued},
    )
    return {
        "template_id": template_id,
        "push_key": push_key,
        "requested": len(wanted),
        "issued": issued,
        "already_had": len(already),
        "refused": refused,
    }
