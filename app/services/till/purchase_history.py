"""What a member has bought: GET /api/v1/me/purchases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Store
from app.models.till import Purchase
from app.services import pagination
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
