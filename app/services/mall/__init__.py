"""The points mall (积分商城): members exchange points for coupons or goods; a store hands the
goods over against a pickup code; goods not collected yet can be cancelled.

An exchange is one transaction (the caller's, which commits it): the member's lifetime limit (a
conditional upsert of their holding of the item), the points (through the ledger, ref
`mall:<exchange id>`), a shard of the item's stock (a conditional update), the coupons or the
pickup code, and the exchange's row commit together or not at all. Each guard is a statement the
database arbitrates, so concurrent exchanges never oversell, never pass a member's limit and never
spend points they do not have; a refusal raises and the caller rolls the whole unit back.

Lock order, the same on every path (no deadlock between them): the member's holding of the item,
the member's row (the ledger), the coupon template's stock shards, the item's stock shards (one,
or all in shard order: services.stock_shards). A cancel first flips its exchange's status, then
takes the same locks in the same order. The item's row is never locked by an exchange.

Coupons bought in the mall are final: an exchange of kind `coupon` cannot be cancelled, used or
not (409 exchange.not_cancellable). An unused one could be redeemed at a till while its cancel
runs (a coupon is voided only when its member closes the account); the member keeps the coupon
as with any coupon rule.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, bindparam, or_, select, text, update
from sqlalchemy.orm import Session, joinedload

from app import clock
from app.errors import AppError
from app.models import Member, Staff
from app.models.base import UTCDateTime
from app.models.coupons import Coupon
from app.models.mall import MallExchange, MallHolding, MallItem
from app.services import ledger, pagination
from app.services.coupons import issue_coupon
from app.services.identifiers import CROCKFORD
from app.services.ledger import points_program
from app.services.staff import audit, require_store
from app.services.stock_shards import ShardedStock

PICKUP_CODE_LENGTH = 12  # 12 Crockford characters: 60 random bits, hopeless to guess
MAX_QUANTITY = 100


def new_pickup_code() -> str:
    return "".join(CROCKFORD[secrets.randbelow(32)] for _ in range(PICKUP_CODE_LENGTH))


def normalise_pickup_code(code: str) -> str:
    """What a clerk types, as stored: upper case, without spaces or dashes; the letters Crockford
    leaves out read as the digits they look like (O as 0, I and L as 1)."""
    cleaned = code.strip().upper().replace("-", "").replace(" ", "")
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


class OfferedItem(NamedTuple):
    """An item on offer now, and how many units of it the member has exchanged."""

    item: MallItem
    exchanged_by_me: int


@dataclass
class ExchangeView:
    """An exchange as the answers show it (ExchangeSchema)."""

    id: int
    item_id: int
    item_name: str
    kind: str
    quantity: int
    points_spent: int
    status: str
    pickup_code: str | None
    created_at: datetime
    collected_at: datetime | None = None
    collected_store_id: int | None = None
    cancelled_at: datetime | None = None
    coupons: list = field(default_factory=list)


class Exchanged(NamedTuple):
    """An exchange just made or cancelled, and the member's balance after it."""

    exchange: ExchangeView
    balance: int


def _view(exchange: MallExchange, item: MallItem, coupons: list) -> ExchangeView:
    return ExchangeView(
        id=exchange.id,
        item_id=exchange.item_id,
        item_name=item.name,
        kind=item.kind,
        quantity=exchange.quantity,
        points_spent=exchange.points_spent,
        status=exchange.status,
        pickup_code=exchange.pickup_code,
        created_at=exchange.created_at,
        collected_at=exchange.collected_at,
        collected_store_id=exchange.collected_store_id,
        cancelled_at=exchange.cancelled_at,
        coupons=coupons,
    )


def views(session: Session, exchanges: list[MallExchange]) -> list[ExchangeView]:
    """The exchanges with their items and coupons, read in two statements."""
    item_ids = {e.item_id for e in exchanges}
    items = {
        i.id: i
        for i in session.execute(select(MallItem).where(MallItem.id.in_(item_ids))).scalars()
    }
    coupon_ids = [cid for e in exchanges for cid in (e.coupon_ids or ())]
    coupons = {}
    if coupon_ids:
        coupons = {
            c.id: c
            for c in session.execute(
                select(Coupon).where(Coupon.id.in_(coupon_ids)).options(joinedload(Coupon.template))
            ).scalars()
        }
    return [
        _view(e, items[e.item_id], [coupons[c] for c in (e.coupon_ids or ()) if c in coupons])
        for e in exchanges
    ]


def _is_open(item: MallItem, now: datetime) -> bool:
    return (
        item.is_active
        and (item.starts_at is None or item.starts_at <= now)
        and (item.ends_at is None or now < item.ends_at)
    )


def _member_tier(session: Session, member_id: int) -> str:
    tier_code = session.scalar(select(Member.tier_code).where(Member.id == member_id))
    if tier_code is None:
        raise AppError("member.not_found")
    return points_program.tier_for(points_program.config(session), tier_code)["code"]


def items_on_offer(session: Session, member_id: int, now=None) -> list[OfferedItem]:
    """Items on offer now (switched on, inside their window), sold-out ones included, newest
    first, with how many units the member has exchanged; `tiers` tells who may exchange."""
    now = now or clock.now()
    rows = session.execute(
        select(MallItem, MallHolding.count)
        .outerjoin(
            MallHolding,
            and_(MallHolding.item_id == MallItem.id, MallHolding.member_id == member_id),
        )
        .where(
            MallItem.is_active.is_(True),
            or_(MallItem.starts_at.is_(None), MallItem.starts_at <= now),
            or_(MallItem.ends_at.is_(None), MallItem.ends_at > now),
        )
        .order_by(MallItem.id.desc())
    ).all()
    return [OfferedItem(item, held or 0) for item, held in rows]


# The member's lifetime limit: count the units unless that passes the item's limit (read at the
# statement, so a marketer's change applies at once). Concurrent exchanges of one member queue on
# the holding's row (ON CONFLICT waits for the first one to end) and each sees the count before it.
_HOLD = text(
    """
    INSERT INTO mall_holdings AS h (item_id, member_id, count)
    SELECT id, :mid, :quantity FROM mall_items WHERE id = :item_id AND :quantity <= limit_per_member
    ON CONFLICT (item_id, member_id) DO UPDATE SET count = h.count + EXCLUDED.count
    WHERE h.count + EXCLUDED.count
          <= (SELECT limit_per_member FROM mall_items WHERE id = EXCLUDED.item_id)
    RETURNING count
    """
)
# The stock: one shard of it, locked from here to the commit (the last guard of the unit, so it
# is held for the fewest statements; a flash exchange's takers each lock a shard of their own).
STOCK = ShardedStock("mall_stock_shards", "item_id", "exchanged", "mall_items")
_EXCHANGES = MallExchange.__table__
_NEXT_ID = text("SELECT nextval('mall_exchanges_id_seq')")


def get_item(session: Session, item_id: int) -> MallItem:
    """The item as the database has it now (not as this session loaded it before)."""
    item = session.get(MallItem, item_id, populate_existing=True)
    if item is None:
        raise AppError("not_found", message="No such mall item.")
    return item


def exchange(
    session: Session, member_id: int, item_id: int, quantity: int = 1, now=None
) -> Exchanged:
    """Exchange points for `quantity` units of an item: cost × quantity points, within the
    item's window and tiers (409 mall.not_available), its stock (409 mall.out_of_stock), the
    member's lifetime limit (409 mall.limit_reached) and balance (409 points.insufficient).
    Goods get a pickup code to show at any store; coupons go to the member's coupons."""
    now = now or clock.now()
    item = get_item(session, item_id)
    if not _is_open(item, now):
        raise AppError("mall.not_available", message="This item is not on offer now.")
    if item.tiers is not None and _member_tier(session, member_id) not in item.tiers:
        raise AppError("mall.not_available", message="This item is for other tiers.")
    if quantity > item.limit_per_member:
        raise _limit_reached(item)
    if item.stock_left < quantity:
        # A read without a lock, to refuse cheaply once sold out; the guard is _TAKE_STOCK.
        raise AppError("mall.out_of_stock")
    params = {"item_id": item.id, "mid": member_id, "quantity": quantity}
    if session.execute(_HOLD, params).scalar_one_or_none() is None:
        raise _limit_reached(item)
    exchange_id = session.execute(_NEXT_ID).scalar_one()
    cost = item.cost_points * quantity
    balance = ledger.spend(
        session,
        member_id,
        cost,
        reason="mall",
        ref=f"mall:{exchange_id}",
        now=now,
        note=item.name[:200],
    ).balance_after
    coupons = []
    if item.kind == "coupon":
        coupons = [
            _issue(session, item, member_id, f"mall:{exchange_id}:{n}", now)
            for n in range(quantity)
        ]
    if not STOCK.take(session, item.id, quantity):
        raise AppError("mall.out_of_stock")
    row = MallExchange(
        id=exchange_id,
        item_id=item.id,
        member_id=member_id,
        quantity=quantity,
        points_spent=cost,
        status="issued" if item.kind == "coupon" else "awaiting_pickup",
        pickup_code=new_pickup_code() if item.kind == "goods" else None,
        coupon_ids=[c.id for c in coupons],
        created_at=now,
    )
    session.add(row)
    session.flush()
    return Exchanged(_view(row, item, coupons), balance)


def _limit_reached(item: MallItem) -> AppError:
    return AppError(
        "mall.limit_reached",
        message=f"At most {item.limit_per_member} of this item per member.",
        details={"limit_per_member": item.limit_per_member},
    )


# The coupon service's refusals, as the mall's: the member asked for an item, not a template.
_COUPON_REFUSALS = {
    "coupon.out_of_stock": "mall.out_of_stock",
    "coupon.limit_reached": "mall.limit_reached",
    "coupon.not_claimable": "mall.not_available",
    "coupon.not_found": "mall.not_available",
}


def _issue(session: Session, item: MallItem, member_id: int, ref: str, now) -> Coupon:
    """One coupon of the item's template, through the coupon service's issuing path (its stock
    and per-member limit hold; the claim window and `claimable` are the mini-program's, not the
    mall's: a template only the mall gives has `claimable: false`)."""
    try:
        return issue_coupon(
            session, item.coupon_template_id, member_id, source="mall", ref=ref, now=now
        )
    except AppError as err:
        code = _COUPON_REFUSALS.get(err.code)
        if code is None:
            raise
        raise AppError(code, message=err.message, details=err.details) from err


_CANCEL = (
    update(_EXCHANGES)
    .where(
        _EXCHANGES.c.id == bindparam("exchange_id"),
        _EXCHANGES.c.member_id == bindparam("mid"),
        _EXCHANGES.c.status == "awaiting_pickup",
    )
    .values(status="cancelled", cancelled_at=bindparam("now", type_=UTCDateTime()))
    .returning(_EXCHANGES.c.item_id, _EXCHANGES.c.quantity, _EXCHANGES.c.points_spent)
)


def cancel(session: Session, member_id: int, exchange_id: int, now=None) -> Exchanged:
    """Cancel goods not collected yet: the points come back (ledger ref `mall-cancel:<id>`, a
    new lot that expires by the program's rule from today), and the stock and the member's limit
    with them. Once only: the status flips by a conditional update, so a second tap, at once or
    later, is 409 exchange.not_cancellable, as are collected goods and coupons (see above)."""
    now = now or clock.now()
    flipped = session.execute(
        _CANCEL, {"exchange_id": exchange_id, "mid": member_id, "now": now}
    ).one_or_none()
    if flipped is None:
        found = session.get(MallExchange, exchange_id)
        if found is None or found.member_id != member_id:
            raise AppError("exchange.unknown")
        raise AppError(
            "exchange.not_cancellable",
            message=_NOT_CANCELLABLE.get(found.status, "This exchange can no longer be cancelled."),
            details={"status": found.status},
        )
    item_id, quantity, points = flipped
    holdings = MallHolding.__table__
    session.execute(
        update(holdings)
        .where(holdings.c.item_id == item_id, holdings.c.member_id == member_id)
        .values(count=holdings.c.count - quantity)
    )
    balance = ledger.earn(
        session,
        member_id,
        points,
        reason="mall_cancel",
        ref=f"mall-cancel:{exchange_id}",
        now=now,
    ).balance_after
    STOCK.give_back(session, item_id, quantity)
    session.flush()
    row = session.get(MallExchange, exchange_id)
    session.refresh(row)
    return Exchanged(views(session, [row])[0], balance)


_NOT_CANCELLABLE = {
    "issued": "Coupons from the mall cannot be cancelled.",
    "collected": "These goods were already collected.",
    "cancelled": "This exchange was already cancelled.",
}


def my_exchanges(session: Session, member_id: int, limit: int, cursor) -> pagination.Page:
    """The member's exchanges, newest first, with their coupons or pickup codes."""
    page = pagination.page(
        session,
        select(MallExchange).where(MallExchange.member_id == member_id),
        MallExchange.id,
        limit,
        cursor,
    )
    return pagination.Page(views(session, page.items), page.next_cursor)


_COLLECT = (
    update(_EXCHANGES)
    .where(_EXCHANGES.c.pickup_code == bindparam("code"), _EXCHANGES.c.status == "awaiting_pickup")
    .values(
        status="collected",
        collected_at=bindparam("now", type_=UTCDateTime()),
        collected_store_id=bindparam("store_id"),
        collected_by=bindparam("staff_id"),
    )
    .returning(_EXCHANGES.c.id)
)


def collect(session: Session, staff: Staff, pickup_code: str, now=None) -> ExchangeView:
    """Hand goods over at the clerk's store against their pickup code: once only (409
    exchange.already_collected), at any store, recorded in the audit trail with the staff member
    and the store; an unknown or cancelled code is 404 exchange.unknown."""
    now = now or clock.now()
    store_id = require_store(staff)
    code = normalise_pickup_code(pickup_code)
    params = {"code": code, "now": now, "store_id": store_id, "staff_id": staff.id}
    exchange_id = session.execute(_COLLECT, params).scalar_one_or_none()
    if exchange_id is None:
        found = session.execute(
            select(MallExchange).where(MallExchange.pickup_code == code)
        ).scalar_one_or_none()
        if found is None:
            raise AppError("exchange.unknown", message="No goods with this pickup code.")
        if found.status == "cancelled":
            raise AppError("exchange.unknown", message="This exchange was cancelled.")
        raise AppError(
            "exchange.already_collected",
            details={
                "collected_at": found.collected_at.isoformat() if found.collected_at else None,
                "store_id": found.collected_store_id,
            },
        )
    row = session.get(MallExchange, exchange_id)
    session.refresh(row)
    view = views(session, [row])[0]
    audit.record(
        session,
        staff,
        "mall.collect",
        "mall_exchange",
        exchange_id,
        {"item": view.item_name, "quantity": view.quantity, "member_id": row.member_id},
        store_id=store_id,
    )
    session.flush()
    return view
