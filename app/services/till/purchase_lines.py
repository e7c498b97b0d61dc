"""An order's lines (sku, name, category, quantity, unit price, amount), as the POS or the till
sends them, and refunds by line.

Lines are optional everywhere; when given, their amounts add up to the order's amount (422
purchase.lines_mismatch otherwise, before anything is written), and a refund by line adds up to
the refund's amount and gives back at most what each line has left.
"""

from __future__ import annotations

import json

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.errors import AppError
from app.models.till import Purchase, PurchaseLine, Refund, RefundLine

LINE_FIELDS = ("sku", "name", "category", "quantity", "unit_price_fen", "amount_fen")


def check_lines(lines: list[dict] | None, amount_fen: int) -> None:
    """422 purchase.lines_mismatch unless the lines (when given) add up to `amount_fen`."""
    if not lines:
        return
    total = sum(line["amount_fen"] for line in lines)
    if total != amount_fen:
        raise AppError(
            "purchase.lines_mismatch",
            message=f"The lines add up to {total} fen, the order is {amount_fen} fen.",
            details={"lines_total_fen": total, "amount_fen": amount_fen},
        )


def lines_print(lines: list[dict]) -> str:
    """The lines as canonical JSON, for the order's fingerprint (a replay sends the same)."""
    return json.dumps(
        [[line.get(field, "") for field in LINE_FIELDS] for line in lines],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def store_lines(session: Session, purchase_id: int, lines: list[dict]) -> None:
    """The purchase's lines, numbered 1, 2, ... in the order sent; one statement."""
    session.execute(
        insert(PurchaseLine),
        [
            {
                "purchase_id": purchase_id,
                "line_no": number,
                "sku": line["sku"],
                "name": line.get("name", ""),
                "category": line.get("category", ""),
                "quantity": line["quantity"],
                "unit_price_fen": line["unit_price_fen"],
                "amount_fen": line["amount_fen"],
                "refunded_fen": 0,
            }
            for number, line in enumerate(lines, start=1)
        ],
    )


def lines_of(session: Session, purchase_ids: list[int]) -> dict[int, list[PurchaseLine]]:
    """The lines of these purchases, by purchase id, in line order; one statement."""
    found: dict[int, list[PurchaseLine]] = {pid: [] for pid in purchase_ids}
    if not purchase_ids:
        return found
    rows = session.execute(
        select(PurchaseLine)
        .where(PurchaseLine.purchase_id.in_(purchase_ids))
        .order_by(PurchaseLine.purchase_id, PurchaseLine.line_no)
    ).scalars()
    for line in rows:
        found[line.purchase_id].append(line)
    return found


def refund_lines(
    session: Session, purchase: Purchase, refund: Refund, lines: list[dict], amount_fen: int
) -> None:
    """Give back `lines` [{sku, quantity, amount_fen}] of the purchase for this refund: they add
    up to the refund's amount (422 purchase.lines_mismatch), each names a line of the order by
    its sku (the first with that sku and enough left, 422 request.invalid if none), and no line
    gives back more than it has left (422 refund.exceeds_purchase). The caller holds the
    purchase's row lock, so the lines' refunded amounts cannot race."""
    check_lines(lines, amount_fen)
    order_lines = lines_of(session, [purchase.id])[purchase.id]
    left = {line.id: line.amount_fen - line.refunded_fen for line in order_lines}
    taken = []
    for asked in lines:
        match = next(
            (
                line
                for line in order_lines
                if line.sku == asked["sku"] and left[line.id] >= asked["amount_fen"]
            ),
            None,
        )
        if match is None:
            known = any(line.sku == asked["sku"] for line in order_lines)
            if known:
                raise AppError(
                    "refund.exceeds_purchase",
                    message=f"The refund would exceed what line {asked['sku']} was paid.",
                    details={"sku": asked["sku"]},
                )
            raise AppError(
                "request.invalid",
                message="A refund line names no line of this order.",
                details={"lines": [f"Unknown sku {asked['sku']!r} on this order."]},
            )
        left[match.id] -= asked["amount_fen"]
        taken.append((match.id, asked))
    session.execute(
        insert(RefundLine),
        [
            {
                "refund_id": refund.id,
                "purchase_line_id": line_id,
                "quantity": asked.get("quantity") or 0,
                "amount_fen": asked["amount_fen"],
            }
            for line_id, asked in taken
        ],
    )
    for line_id, asked in taken:
        session.execute(
            update(PurchaseLine)
            .where(PurchaseLine.id == line_id)
            .values(refunded_fen=PurchaseLine.refunded_fen + asked["amount_fen"])
        )
