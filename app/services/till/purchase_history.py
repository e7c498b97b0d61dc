"""What a member has bought: GET /api/v1/me/purchases and GET /staff/v1/members/{id}/purchases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import AppError
from app.models import Member, Store
from app.models.till import Purchase
from app.services import pagination
from app.services.staff import store_scope
from app.services.till.purchase_lines import lines_of


def member_purchases(session: Session, member_id: int, limit: int, cursor) -> pagination.Page:
    """The member's purchases, newest recorded first, with the store, what was refunded, the
    points earned and redeemed, and the order's lines when the till or the POS sent them; three
    statements a page (the purchases, their stores, their lines)."""
    page = pagination.page(
        session, select(Purchase).where(Purchase.member_id == member_id), Purchase.id, limit, cursor
    )
    store_ids = {p.store_id for p in page.items}
    stores = (
        {s.id: s for s in session.execute(select(Store).where(Store.id.in_(store_ids))).scalars()}
        if store_ids
        else {}
    )
    lines = lines_of(session, [p.id for p in page.items])
    items = [
        {
            "order_no": p.order_no,
            "store": {"id": p.store_id, "name": stores[p.store_id].name},
            "amount_fen": p.amount_fen,
            "refunded_fen": p.refunded_fen,
            "points_awarded": p.points_awarded,
            "points_reversed": p.points_reversed,
            "points_redeemed": p.points_redeemed,
            "discount_fen": p.discount_fen,
            "coupon_discount_fen": p.coupon_discount_fen,
            "paid_at": p.paid_at,
            "lines": lines[p.id],
        }
        for p in page.items
    ]
    return pagination.Page(items, page.next_cursor)


def purchases_for_staff(
    session: Session, staff, member_id: int, limit: int, cursor
) -> pagination.Page:
    """A member's purchases as the member sees them, for a staff member who may see the member:
    managers only their store's members (404 member.not_found otherwise, as for the lookup)."""
    query = select(Member.id).where(Member.id == member_id, Member.closed_at.is_(None))
    scope = store_scope(staff)
    if scope is not None:
        query = query.where(Member.store_id == scope)
    if session.execute(query).scalar_one_or_none() is None:
        raise AppError("member.not_found")
    return member_purchases(session, member_id, limit, cursor)
