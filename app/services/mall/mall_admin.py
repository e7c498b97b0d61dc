"""Marketing's side of the mall: the items on offer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import AppError
from app.models import Staff
from app.models.coupons import CouponTemplate
from app.models.mall import MallItem
from app.services import pagination
from app.services.ledger import points_program
from app.services.mall import STOCK, get_item
from app.services.staff import audit

# What can change once members have exchanged: never the kind or the coupon template, which
# exchanges already made point at; the stock only down to what was exchanged.
MUTABLE = (
    "name",
    "description",
    "cost_points",
    "limit_per_member",
    "tiers",
    "starts_at",
    "ends_at",
    "image_url",
    "is_active",
)


def _invalid(message: str, field: str, problem: str) -> AppError:
    return AppError("request.invalid", message=message, details={field: [problem]})


def _check(session: Session, fields: dict) -> None:
    """422 for tiers the points program does not have, a coupon item without an existing
    template, a goods item with one, and an empty window."""
    known = {t["code"] for t in points_program.tiers(points_program.config(session))}
    unknown = sorted(set(fields.get("tiers") or ()) - known)
    if unknown:
        raise _invalid("The item names tiers the points program does not have.", "tiers",
                       f"Unknown tier: {', '.join(unknown)}.")  # fmt: skip
    kind = fields.get("kind")
    template_id = fields.get("coupon_template_id")
    if kind == "coupon" and (
        template_id is None or session.get(CouponTemplate, template_id) is None
    ):
        raise _invalid("A coupon item needs an existing coupon template.", "coupon_template_id",
                       "Unknown coupon template.")  # fmt: skip
    if kind == "goods" and template_id is not None:
        raise _invalid("Goods have no coupon template.", "coupon_template_id", "Leave it out.")
    start, end = fields.get("starts_at"), fields.get("ends_at")
    if start and end and start >= end:
        raise _invalid("The window is empty.", "ends_at", "After starts_at.")


def _jsonable(values: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


def item_status(item: MallItem, now: datetime) -> str:
    """What the console calls an item now, as it calls a coupon offer: `stopped` (switched off),
    `upcoming` (its window has not opened), `ended` (closed), `sold_out` (every unit
    exchanged), else `offered`."""
    if not item.is_active:
        return "stopped"
    if item.starts_at is not None and now < item.starts_at:
        return "upcoming"
    if item.ends_at is not None and now >= item.ends_at:
        return "ended"
    if item.stock_left <= 0:
        return "sold_out"
    return "offered"


def create_item(session: Session, fields: dict, staff: Staff) -> MallItem:
    """A new item on offer (fields validated by the schema; tiers the program's)."""
    _check(session, fields)
    item = MallItem(**fields, created_by=staff.id)
    session.add(item)
    session.flush()
    audit.record(session, staff, "mall_item.create", "mall_item", item.id, _jsonable(fields))
    session.commit()
    return item


def list_items(session: Session, limit: int, cursor) -> pagination.Page:
    """Every item, newest first, switched off ones too, with what was exchanged."""
    return pagination.page(session, select(MallItem), MallItem.id, limit, cursor)


def update_item(session: Session, item_id: int, changes: dict, staff: Staff) -> MallItem:
    """Change an item's offer (not its kind or template); the stock can be raised, or lowered
    down to what was exchanged (409 mall.stock_below_exchanged), by one statement over the
    stock's shards (services.stock_shards), so exchanges running meanwhile never end above it."""
    item = get_item(session, item_id)
    merged = {
        "kind": item.kind,
        "coupon_template_id": item.coupon_template_id,
        "starts_at": changes.get("starts_at", item.starts_at),
        "ends_at": changes.get("ends_at", item.ends_at),
        "tiers": changes.get("tiers"),
    }
    _check(session, merged)
    if "stock_total" in changes:
        exchanged = STOCK.change_stock(session, item_id, changes["stock_total"])
        if exchanged is not None:
            session.rollback()
            raise AppError("mall.stock_below_exchanged", details={"exchanged": exchanged})
    for name in MUTABLE:
        if name in changes:
            setattr(item, name, changes[name])
    audit.record(session, staff, "mall_item.update", "mall_item", item_id, _jsonable(changes))
    session.commit()
    session.refresh(item)
    return item
