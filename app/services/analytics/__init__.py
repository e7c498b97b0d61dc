"""The analysis of the business (issue 18): new versus existing members' GMV and its drivers,
cohorts, the second purchase, baskets. Read by marketing at /staff/v1/admin/analytics.

Every figure counts orders paid up to now and not refunded in full (a zero-amount order counts,
as in the segments refresh); money is net of refunds. Months and days are business ones
(BUSINESS_TZ). Each figure is set-based SQL; Python only arranges the rows.
"""

from __future__ import annotations

from datetime import date

from app import clock

# An order that counts: not refunded in full. `p` is the purchases alias.
COUNTS = "(p.refunded_fen < p.amount_fen OR p.amount_fen = 0)"


def month_start(year: int, month: int):
    """The instant the business month begins."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return clock.business_day_start(date(year, month, 1))


def parse_month(value: str) -> tuple[int, int]:
    year, month = value.split("-")
    return int(year), int(month)


def share(part: float, whole: float) -> float | None:
    """part / whole rounded to 4 decimals (0.1234 = 12.34 %); None when whole is 0."""
    return round(part / whole, 4) if whole else None
