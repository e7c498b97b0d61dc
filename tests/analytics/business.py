"""A small chain's business, planted for the analytics figures' CSV exports and the console's
analytics page: two stores, members who joined in 2025, April and May 2026, orders with lines
(one refunded in full), the clock on 10 June 2026 in Shanghai. The figures it gives are written
out in tests/analytics/test_analytics_csv.py."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from app import clock
from app.models import Purchase
from app.models.till import PurchaseLine

SHANGHAI = timedelta(hours=8)
NOW = "2026-06-10"
_orders = itertools.count(1)


def at(day: str, hour: int = 12) -> datetime:
    """Noon (or `hour`) of a Shanghai business day, as a UTC instant."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC) - SHANGHAI


def order(session, member, store, paid, lines, refunded: int = 0) -> None:
    """An order with its lines: [(category, quantity, unit price in fen)], paid on a business
    day (YYYY-MM-DD, at noon) or at an instant."""
    purchase = Purchase(
        store_id=store.id,
        order_no=f"biz{next(_orders)}",
        member_id=member.id,
        amount_fen=sum(q * price for _, q, price in lines),
        refunded_fen=refunded,
        paid_at=at(paid) if isinstance(paid, str) else paid,
    )
    session.add(purchase)
    session.flush()
    for n, (category, quantity, price) in enumerate(lines, 1):
        session.add(
            PurchaseLine(
                purchase_id=purchase.id,
                line_no=n,
                sku=f"{category}-{n}",
                name=category,
                category=category,
                quantity=quantity,
                unit_price_fen=price,
                amount_fen=quantity * price,
            )
        )


def plant(session, make_store, make_member) -> dict:
    clock.freeze(at(NOW))
    a = make_store(name="人民广场店", code="RMGC")
    b = make_store(name="徐家汇店", code="XJH")
    old1, old2, old3 = (make_member(a, joined_at=at("2025-03-01")) for _ in range(3))
    april = [make_member(a, joined_at=at(f"2026-04-0{d}")) for d in range(1, 5)]
    may = [make_member(a, joined_at=at(f"2026-05-0{d}")) for d in range(2, 5)]
    may.append(make_member(b, joined_at=at("2026-05-15")))
    a1, a2 = april[0], april[1]
    m1, m2, _m3, m4 = may
    order(session, old3, a, "2026-01-15", [("饮料", 1, 800)])
    order(session, old1, a, "2026-02-01", [("乳品", 2, 500)])
    # April: two new members buy (3 orders, 3,000); two existing members (3 orders, 9,000).
    order(session, a1, a, "2026-04-10", [("乳品", 2, 500)])
    order(session, a2, a, "2026-04-11", [("面包", 1, 500)])
    order(session, a2, a, "2026-04-12", [("饮料", 3, 500)])
    order(session, old1, a, "2026-04-03", [("乳品", 4, 500)])
    order(session, old1, a, "2026-04-04", [("零食", 2, 2_000)])
    order(session, old2, a, "2026-04-05", [("饮料", 6, 500)])
    # May: two new buyers (one at store B), one refunded in full; three existing buyers.
    order(session, m1, a, "2026-05-02", [("乳品", 2, 500), ("面包", 1, 1_000)])
    order(session, m2, a, "2026-05-20", [("零食", 9, 1_100)], refunded=9_900)
    order(session, old1, a, "2026-05-05", [("零食", 1, 5_000)])
    order(session, old2, a, "2026-05-06", [("饮料", 2, 500)])
    order(session, old2, a, "2026-05-07", [("乳品", 2, 500)])
    order(session, a1, a, "2026-05-08", [("面包", 3, 1_000)])
    order(session, m4, b, "2026-05-16", [("乳品", 6, 1_000)])
    session.commit()
    return {"a": a, "b": b}
