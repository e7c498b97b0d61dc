"""The audience filter's criteria on what members buy: bought a category or a sku (in the last N
days), and the likely buyers of a category they have not bought yet (a new product's launch).

What counts as bought: a line of an order paid up to now, neither the order nor the line
refunded in full (a zero-amount order or line, a free gift, counts, as in the analytics and the
segments refresh). Orders sent without lines say nothing about categories.

Likely buyers, by item-to-item lift from co-purchase (members, not baskets: "people who buy c
also buy t"). Over every member who bought something with a category, for the target t and each
other category c:

    lift(c -> t) = P(t | c) / P(t) = (n_ct / n_c) / (n_t / N)

shrunk towards 1 by PSEUDO_MEMBERS members who buy t at its base rate (n_ct + k·p_t) /
((n_c + k)·p_t): a category bought by five members, two of whom bought t, is not taken for a
40x signal. A member's score is the sum over the categories they bought of orders_in_c ×
(lift − 1): more orders of a category that goes with t, more evidence; categories that go
against t count against it. Members who bought t are left out, as are those whose score is not
above 0 (nothing they buy points to t). Validated on held-out purchases in
bench/likely_buyers.py (its README gives the hit rates against random and the most active).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import BigInteger as SaBigInteger
from sqlalchemy import Float, bindparam, select, text

from app import clock
from app.models import Member, Purchase
from app.models.base import UTCDateTime
from app.models.till import PurchaseLine

# Members who buy the target at its base rate, added to every category's: the prior of the lift.
PSEUDO_MEMBERS = 20

# An order that counts (not refunded in full) and a line that counts, as SQL over `p` and `l`.
ORDER_COUNTS = "(p.refunded_fen < p.amount_fen OR p.amount_fen = 0)"
LINE_COUNTS = "(l.refunded_fen < l.amount_fen OR l.amount_fen = 0)"


def _counts(purchase=Purchase, line=PurchaseLine) -> list:
    return [
        (purchase.refunded_fen < purchase.amount_fen) | (purchase.amount_fen == 0),
        (line.refunded_fen < line.amount_fen) | (line.amount_fen == 0),
    ]


def within_start(within_days: int | None):
    """The instant the last `within_days` business days (today included) began, or None."""
    if within_days is None:
        return None
    return clock.business_day_start(clock.business_today() - timedelta(days=within_days - 1))


def bought_condition(column, values: list[str], within_days: int | None):
    """Members with a counted line whose `column` (category or sku) is one of `values`, paid in
    the last `within_days` business days when given: one semi-join on the line index."""
    now = clock.now()
    buyers = (
        select(Purchase.member_id)
        .select_from(PurchaseLine)
        .join(Purchase, Purchase.id == PurchaseLine.purchase_id)
        .where(column.in_(values), Purchase.paid_at <= now, *_counts())
    )
    start = within_start(within_days)
    if start is not None:
        buyers = buyers.where(Purchase.paid_at >= start)
    return Member.id.in_(buyers)


def bought_categories_condition(criterion: dict):
    return bought_condition(
        PurchaseLine.category, criterion["categories"], criterion.get("within_days")
    )


def bought_skus_condition(criterion: dict):
    return bought_condition(PurchaseLine.sku, criterion["skus"], criterion.get("within_days"))


# Every step one pass: the members' categories (orders per member and category) are materialised
# once and read by the counts, the lifts and the scores.
_SCORES = f"""
    WITH member_categories AS MATERIALIZED (
        SELECT p.member_id, l.category, COUNT(DISTINCT p.id) AS orders
        FROM purchase_lines l JOIN purchases p ON p.id = l.purchase_id
        WHERE l.category <> '' AND p.paid_at <= :lb_now AND {ORDER_COUNTS} AND {LINE_COUNTS}
        GROUP BY p.member_id, l.category
    ), target_buyers AS (
        SELECT member_id FROM member_categories WHERE category = :lb_category
    ), base AS (
        SELECT CAST((SELECT COUNT(*) FROM target_buyers) AS float8)
               / NULLIF((SELECT COUNT(DISTINCT member_id) FROM member_categories), 0) AS p_t
    ), lifts AS (
        SELECT mc.category,
               (COUNT(t.member_id) + :lb_k * b.p_t) / ((COUNT(*) + :lb_k) * b.p_t) AS lift
        FROM member_categories mc
        LEFT JOIN target_buyers t ON t.member_id = mc.member_id
        CROSS JOIN base b
        WHERE mc.category <> :lb_category AND b.p_t > 0
        GROUP BY mc.category, b.p_t
    )
    SELECT mc.member_id, SUM(mc.orders * (f.lift - 1)) AS score
    FROM member_categories mc JOIN lifts f ON f.category = mc.category
    WHERE NOT EXISTS (SELECT FROM target_buyers t WHERE t.member_id = mc.member_id)
    GROUP BY mc.member_id
    HAVING SUM(mc.orders * (f.lift - 1)) > 0
"""


def scores_query(category: str, now=None, pseudo_members: int = PSEUDO_MEMBERS):
    """(member_id, score) of every member who has not bought `category` and whose purchases
    point to it (score > 0), as a subquery; one statement, no loop per member."""
    statement = (
        text(_SCORES)
        .bindparams(
            bindparam("lb_now", now or clock.now(), type_=UTCDateTime()),
            bindparam("lb_category", category),
            bindparam("lb_k", float(pseudo_members)),
        )
        .columns(member_id=SaBigInteger, score=Float)
    )
    return statement.subquery("likely_buyers")


def likely_buyers_condition(selected, criterion: dict):
    """Members.id IN the `top` best scored members among those the query `selected` (the
    filter's other criteria, a SELECT of members.id) selects; ties go to the older member."""
    scores = scores_query(criterion["category"])
    ranked = (
        selected.join(scores, scores.c.member_id == Member.id)
        .order_by(scores.c.score.desc(), Member.id)
        .limit(criterion["top"])
        .correlate(None)
    )
    return Member.id.in_(ranked)
