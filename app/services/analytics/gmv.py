"""GMV of a month, new members' versus existing members', with its drivers (the seeds' 拆解).

A month's GMV = new members' + existing members'. New members joined in the month; with a store
filter, those who signed up at the store, and the figures are their orders at the store. Everyone
else who bought is an existing member (with a store filter: every other order at the store).

    new GMV      = signups × first_purchase_rate × orders_per_buyer × avg_order
    existing GMV = active_members × orders_per_buyer × avg_order

The change from the previous month is split over these factors by the logarithmic mean Divisia
index (LMDI): factor f's part of a segment's change is L(G1, G0) × ln(f1 / f0), L the
logarithmic mean of the segment's GMV in the two months. The parts add up exactly to the change
(no residual, whatever the order of the factors). A segment with no GMV in one of the months has
no logarithm: its whole change goes to the first of its factors that is 0 then (no sign-ups, or
nobody converted, ...).
"""

from __future__ import annotations

import math

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from app.models.base import UTCDateTime
from app.services.analytics import COUNTS, month_start, parse_month, share

_MONTH = text(
    f"""
    WITH orders AS (
        SELECT p.member_id, p.amount_fen - p.refunded_fen AS net,
               m.joined_at >= :start AND m.joined_at < :end
                   AND (CAST(:store_id AS bigint) IS NULL OR m.store_id = :store_id) AS is_new
        FROM purchases p JOIN members m ON m.id = p.member_id
        WHERE p.paid_at >= :start AND p.paid_at < :end AND p.paid_at <= :now AND {COUNTS}
          AND (CAST(:store_id AS bigint) IS NULL OR p.store_id = :store_id)
    )
    SELECT (SELECT COUNT(*) FROM members
            WHERE joined_at >= :start AND joined_at < :end AND joined_at <= :now
              AND (CAST(:store_id AS bigint) IS NULL OR store_id = :store_id)) AS signups,
           COUNT(*) FILTER (WHERE is_new) AS new_orders,
           COUNT(DISTINCT member_id) FILTER (WHERE is_new) AS new_buyers,
           COALESCE(SUM(net) FILTER (WHERE is_new), 0) AS new_gmv,
           COUNT(*) FILTER (WHERE NOT is_new) AS old_orders,
           COUNT(DISTINCT member_id) FILTER (WHERE NOT is_new) AS active,
           COALESCE(SUM(net) FILTER (WHERE NOT is_new), 0) AS old_gmv
    FROM orders
    """
).bindparams(*(bindparam(n, type_=UTCDateTime()) for n in ("start", "end", "now")))

NEW_FACTORS = ("signups", "first_purchase_rate", "orders_per_buyer", "avg_order_fen")
EXISTING_FACTORS = ("active_members", "orders_per_buyer", "avg_order_fen")


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def month_figures(session: Session, year: int, month: int, store_id: int | None, now) -> dict:
    """Both segments' figures for one business month (one statement)."""
    params = {
        "start": month_start(year, month),
        "end": month_start(year, month + 1),
        "now": now,
        "store_id": store_id,
    }
    row = session.execute(_MONTH, params).one()
    signups, new_orders, new_buyers = int(row.signups), int(row.new_orders), int(row.new_buyers)
    new_gmv, old_orders, active = int(row.new_gmv), int(row.old_orders), int(row.active)
    old_gmv = int(row.old_gmv)
    return {
        "month": f"{year:04d}-{month:02d}",
        "new_members": {
            "gmv_fen": new_gmv,
            "signups": signups,
            "buyers": new_buyers,
            "orders": new_orders,
            "first_purchase_rate": _ratio(new_buyers, signups),
            "orders_per_buyer": _ratio(new_orders, new_buyers),
            "avg_order_fen": _ratio(new_gmv, new_orders),
        },
        "existing_members": {
            "gmv_fen": old_gmv,
            "active_members": active,
            "orders": old_orders,
            "orders_per_buyer": _ratio(old_orders, active),
            "avg_order_fen": _ratio(old_gmv, old_orders),
        },
        "gmv_fen": new_gmv + old_gmv,
    }


def _log_mean(a: float, b: float) -> float:
    return a if a == b else (a - b) / (math.log(a) - math.log(b))


def _parts(previous: dict, current: dict, factors: tuple[str, ...]) -> dict[str, float]:
    """Each factor's part of the segment's GMV change (LMDI; see the module's docstring)."""
    g0, g1 = previous["gmv_fen"], current["gmv_fen"]
    if g0 > 0 and g1 > 0:
        weight = _log_mean(g1, g0)
        return {f: weight * math.log(current[f] / previous[f]) for f in factors}
    parts = dict.fromkeys(factors, 0.0)
    for f in factors:
        if previous[f] == 0 or current[f] == 0:
            parts[f] = float(g1 - g0)
            break
    return parts


def _rounded(figures: dict) -> dict:
    out = dict(figures)
    for key in ("first_purchase_rate", "orders_per_buyer"):
        if key in out:
            out[key] = round(out[key], 4)
    out["avg_order_fen"] = round(out["avg_order_fen"])
    return out


def gmv(session: Session, month: str, store_id: int | None, now) -> dict:
    """The month's figures, the previous month's, and the drivers of the change between them."""
    year, number = parse_month(month)
    current = month_figures(session, year, number, store_id, now)
    previous = month_figures(session, year, number - 1, store_id, now)
    change = current["gmv_fen"] - previous["gmv_fen"]
    drivers = []
    for segment, factors in (("new_members", NEW_FACTORS), ("existing_members", EXISTING_FACTORS)):
        parts = _parts(previous[segment], current[segment], factors)
        for factor in factors:
            drivers.append(
                {
                    "segment": segment,
                    "factor": factor,
                    "previous": round(previous[segment][factor], 4),
                    "current": round(current[segment][factor], 4),
                    "change_fen": round(parts[factor]),
                    "share": share(parts[factor], change),
                }
            )

    def shown(figures: dict) -> dict:
        return {
            "month": figures["month"],
            "gmv_fen": figures["gmv_fen"],
            "new_members": _rounded(figures["new_members"]),
            "existing_members": _rounded(figures["existing_members"]),
        }

    return {
        **shown(current),
        "store_id": store_id,
        "previous_month": shown(previous),
        "gmv_change_fen": change,
        "drivers": drivers,
    }
