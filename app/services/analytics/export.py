"""The four figures as CSV tables (header, rows), from the JSON answers (as their schemas dump
them, so the numbers are written the same way).

Each is one flat table a spreadsheet can filter: a figure made of single numbers and a list
names each number in a `figure` column, and the list's rows fill their own columns. Money stays
in fen and shares are fractions (0.25 = 25 %), as in the JSON.
"""

from __future__ import annotations

from app.services.analytics.gmv import EXISTING_FACTORS, NEW_FACTORS

SEGMENTS = {"new_members": NEW_FACTORS, "existing_members": EXISTING_FACTORS}


def gmv_rows(data: dict) -> tuple[list[str], list[list]]:
    """The month's GMV against the previous month's (`all`), then each segment's GMV and its
    drivers (each factor's part of the change and its share of it)."""
    previous, change = data["previous_month"], data["gmv_change_fen"]

    def share(part: int) -> float | None:
        return round(part / change, 4) if change else None

    rows = [["all", "gmv_fen", previous["gmv_fen"], data["gmv_fen"], change, share(change)]]
    for segment in SEGMENTS:
        before, now = previous[segment]["gmv_fen"], data[segment]["gmv_fen"]
        rows.append([segment, "gmv_fen", before, now, now - before, share(now - before)])
        rows += [
            [d["segment"], d["factor"], d["previous"], d["current"], d["change_fen"], d["share"]]
            for d in data["drivers"]
            if d["segment"] == segment
        ]
    return ["segment", "factor", "previous", "current", "change_fen", "share"], rows


def cohorts_rows(data: dict) -> tuple[list[str], list[list]]:
    """One row per join month: members, then the share buying in month 0, 1, 2, … since."""
    months = max((len(row["retention"]) for row in data["rows"]), default=0)
    header = ["cohort", "members", *(f"month_{k}" for k in range(months))]
    return header, [[r["cohort"], r["members"], *r["retention"]] for r in data["rows"]]


def repurchase_rows(data: dict) -> tuple[list[str], list[list]]:
    """The single figures, then the distribution of days to the second purchase."""
    singles = (
        "buyers",
        "repeat_buyers",
        "median_days_to_second",
        "second_purchase_rate_90d",
        "first_purchases_90_days_ago",
        "one_time_buyer_share",
    )
    rows = [[name, None, None, data[name]] for name in singles]
    rows += [
        ["days_to_second_purchase", b["from_day"], b["to_day"], b["members"]]
        for b in data["days_to_second_purchase"]
    ]
    return ["figure", "from_day", "to_day", "value"], rows


def baskets_rows(data: dict) -> tuple[list[str], list[list]]:
    """The single figures (连带率 and the rest), then orders, units and GMV per category."""
    singles = (
        "orders",
        "orders_without_lines",
        "units_per_order",
        "lines_per_order",
        "avg_order_fen",
    )
    rows = [[name, None, None, None, None, data[name]] for name in singles]
    rows += [
        ["category", c["category"], c["orders"], c["units"], c["gmv_fen"], None]
        for c in data["categories"]
    ]
    return ["figure", "category", "orders", "units", "gmv_fen", "value"], rows
