"""Baskets: units and lines per order (连带率), the average order, and sales by category, over
the orders of a period that came with their lines (the POS's, the till's, an import's). Orders
sent without lines have no known basket: they are counted apart (`orders_without_lines`). With
a category, only orders with a line of that category count (what else goes in its baskets)."""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from app import clock
from app.models.base import UTCDateTime
from app.services.analytics import COUNTS, share

_ORDERS = f"""
    orders AS MATERIALIZED (
        SELECT p.id, p.amount_fen - p.refunded_fen AS net,
               EXISTS (SELECT FROM purchase_lines l WHERE l.purchase_id = p.id) AS has_lines
        FROM purchases p
        WHERE p.paid_at >= :start AND p.paid_at < :end AND p.paid_at <= :now AND {COUNTS}
          AND (CAST(:store_id AS bigint) IS NULL OR p.store_id = :store_id)
          AND (CAST(:category AS text) IS NULL OR EXISTS (
                SELECT FROM purchase_lines l WHERE l.purchase_id = p.id AND l.category = :category))
    ), lined AS (
        SELECT l.purchase_id, l.category, l.quantity, l.amount_fen - l.refunded_fen AS net
        FROM purchase_lines l JOIN orders o ON o.id = l.purchase_id
    )
"""
_TOTALS = text(
    f"""
    WITH {_ORDERS}
    SELECT (SELECT COUNT(*) FROM orders WHERE has_lines) AS orders,
           (SELECT COUNT(*) FROM orders WHERE NOT has_lines) AS orders_without_lines,
           (SELECT COALESCE(SUM(net), 0) FROM orders WHERE has_lines) AS gmv,
           (SELECT COALESCE(SUM(quantity), 0) FROM lined) AS units,
           (SELECT COUNT(*) FROM lined) AS lines
    """
).bindparams(*(bindparam(n, type_=UTCDateTime()) for n in ("start", "end", "now")))
_CATEGORIES = text(
    f"""
    WITH {_ORDERS}
    SELECT category, COUNT(DISTINCT purchase_id) AS orders, SUM(quantity) AS units,
           SUM(net) AS gmv
    FROM lined GROUP BY category ORDER BY SUM(net) DESC, category
    """
).bindparams(*(bindparam(n, type_=UTCDateTime()) for n in ("start", "end", "now")))


def baskets(session: Session, first, last, store_id: int | None, category: str | None, now):
    """Figures for the orders paid on business days `first` to `last`."""
    params = {
        "start": clock.business_day_start(first),
        "end": clock.business_day_end(last),
        "now": now,
        "store_id": store_id,
        "category": category,
    }
    totals = session.execute(_TOTALS, params).one()
    orders = int(totals.orders)
    return {
        "from": first,
        "to": last,
        "store_id": store_id,
        "category": category,
        "orders": orders,
        "orders_without_lines": int(totals.orders_without_lines),
        "units_per_order": share(int(totals.units), orders),
        "lines_per_order": share(int(totals.lines), orders),
        "avg_order_fen": round(int(totals.gmv) / orders) if orders else None,
        "categories": [
            {
                "category": row.category,
                "orders": int(row.orders),
                "units": int(row.units),
                "gmv_fen": int(row.gmv),
            }
            for row in session.execute(_CATEGORIES, params)
        ],
    }
