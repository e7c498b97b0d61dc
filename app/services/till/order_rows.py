"""Reading historical order files: one `OrderRow` per good line, a `BadRow` per bad one.

Three formats:
- `cdnow`: the CDNOW sample (whitespace separated: customer id, id in the full file, date
  YYYYMMDD, number of CDs, dollars). Dollars are taken as the currency unit (1.00 -> 100 fen).
- `csv`: a header line, then one order per line; columns are documented in the README
  (customer_id, phone, paid_at, amount_yuan or amount_fen, items, order_no, store_code).
- `lines`: a header line, then one order LINE per line (order_no, store_code, customer_id or
  phone, paid_at, sku, name, category, quantity, unit_price_fen, amount_fen); an order is its
  lines with one order_no at one store.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from app import clock
from app.services.identifiers import normalise_phone

FORMATS = ("cdnow", "csv", "lines")
MAX_AMOUNT_FEN = 100_000_000  # one million yuan: anything larger is a typo
# Orders dated by day only are placed at noon of that business day, safely inside it.
NOON = time(12, 0)
CSV_COLUMNS = {
    "customer_id",
    "phone",
    "paid_at",
    "amount_yuan",
    "amount_fen",
    "items",
    "order_no",
    "store_code",
    "nickname",
}
LINE_COLUMNS = (
    "order_no",
    "store_code",
    "customer_id",
    "phone",
    "paid_at",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price_fen",
    "amount_fen",
    "nickname",
)
LINE_REQUIRED = ("order_no", "paid_at", "sku", "quantity", "unit_price_fen", "amount_fen")
_PHONE = re.compile(r"^\+?\d{6,15}$")


@dataclass(frozen=True, slots=True)
class OrderRow:
    line: int
    external_id: str | None
    phone: str | None
    paid_at: datetime
    amount_fen: int
    items: int
    order_no: str | None  # None: derived from the content (see order_import)
    store_code: str | None
    nickname: str = ""
    # A line of an order (format `lines`): amount_fen is the line's, items its quantity.
    sku: str | None = None
    name: str = ""
    category: str = ""
    unit_price_fen: int | None = None


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str
    # Format `lines`: the order the bad line belongs to, when it can be read (the whole order
    # is then skipped, not imported without it).
    order_no: str | None = None
    store_code: str | None = None


class RowError(ValueError):
    pass


def read_rows(lines: Iterable[str], fmt: str) -> Iterator[OrderRow | BadRow]:
    """Every order line of the file, parsed, or the reason it cannot be used (with its line)."""
    if fmt == "cdnow":
        yield from _cdnow(lines)
    elif fmt == "csv":
        yield from _csv(lines)
    elif fmt == "lines":
        yield from _order_lines(lines)
    else:
        raise ValueError(f"unknown format {fmt!r}")


def _cdnow(lines: Iterable[str]) -> Iterator[OrderRow | BadRow]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        parts = text.split()
        try:
            if len(parts) != 5:
                raise RowError(f"expected 5 fields, found {len(parts)}")
            customer, _sample_id, day, cds, dollars = parts
            if not customer.isdigit():
                raise RowError(f"customer id {customer!r} is not a number")
            paid_on = _day(day, "%Y%m%d")
            yield OrderRow(
                line=number,
                external_id=f"cdnow:{customer}",
                phone=None,
                paid_at=_at_noon(paid_on),
                amount_fen=_fen_from_units(dollars),
                items=_count(cds, "number of CDs"),
                order_no=None,
                store_code=None,
            )
        except RowError as err:
            yield BadRow(number, str(err))


def _csv(lines: Iterable[str]) -> Iterator[OrderRow | BadRow]:
    reader = csv.DictReader(lines)
    header = [name.strip() for name in (reader.fieldnames or [])]
    reader.fieldnames = header
    unknown = set(header) - CSV_COLUMNS
    missing = {"paid_at"} - set(header)
    if unknown or missing or not ({"amount_yuan", "amount_fen"} & set(header)):
        reason = "header must name paid_at and amount_yuan or amount_fen"
        if unknown:
            reason += f"; unknown columns: {', '.join(sorted(unknown))}"
        yield BadRow(1, reason)
        return
    for record in reader:
        number = reader.line_num
        if not any((value or "").strip() for value in record.values()):
            continue
        try:
            yield _csv_row(number, record)
        except RowError as err:
            yield BadRow(number, str(err))


def _csv_row(number: int, record: dict) -> OrderRow:
    if None in record:
        raise RowError("more fields than the header names")

    def text(name: str) -> str:
        return (record.get(name) or "").strip()

    external_id = text("customer_id") or None
    phone = _phone(text("phone")) if text("phone") else None
    if external_id is None and phone is None:
        raise RowError("give customer_id or phone")
    if external_id is not None and len(external_id) > 64:
        raise RowError("customer_id is longer than 64 characters")
    if text("amount_yuan") and text("amount_fen"):
        raise RowError("give amount_yuan or amount_fen, not both")
    if text("amount_yuan"):
        amount = _fen_from_units(text("amount_yuan"))
    elif text("amount_fen"):
        amount = _count(text("amount_fen"), "amount_fen")
        if amount > MAX_AMOUNT_FEN:
            raise RowError("amount is over one million yuan")
    else:
        raise RowError("amount is missing")
    order_no = text("order_no") or None
    if order_no is not None and len(order_no) > 64:
        raise RowError("order_no is longer than 64 characters")
    return OrderRow(
        line=number,
        external_id=external_id,
        phone=phone,
        paid_at=_instant(text("paid_at")),
        amount_fen=amount,
        items=_count(text("items"), "items") if text("items") else 0,
        order_no=order_no,
        store_code=text("store_code") or None,
        nickname=text("nickname")[:64],
    )


def _order_lines(lines: Iterable[str]) -> Iterator[OrderRow | BadRow]:
    """Format `lines`: csv.reader with the header's positions. The hot loop of a million-line
    import: each line's fields are stripped once, into a list whose last item is "" for the
    columns the header does not name (no dict per row, no call per field)."""
    reader = csv.reader(lines)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return
    unknown = set(header) - set(LINE_COLUMNS)
    missing = [c for c in LINE_REQUIRED if c not in header]
    if unknown or missing or not ({"customer_id", "phone"} & set(header)):
        reason = "header must name " + ", ".join(LINE_REQUIRED) + " and customer_id or phone"
        if unknown:
            reason += f"; unknown columns: {', '.join(sorted(unknown))}"
        yield BadRow(1, reason)
        return
    width = len(header)
    at = _LinePositions(*(header.index(c) if c in header else width for c in LINE_COLUMNS))
    strip = str.strip
    for record in reader:
        number = reader.line_num
        values = list(map(strip, record))
        if not any(values):
            continue
        values.append("")
        try:
            if len(record) != width:
                raise RowError(f"expected {width} fields, found {len(record)}")
            yield _line_row(number, values, at)
        except RowError as err:
            order_no = values[at.order_no][:64] if len(record) == width else ""
            store_code = values[at.store_code] if order_no else ""
            yield BadRow(number, str(err), order_no or None, store_code or None)


class _LinePositions(NamedTuple):
    """Where each column of LINE_COLUMNS is in a line (the header's width: not named)."""

    order_no: int
    store_code: int
    customer_id: int
    phone: int
    paid_at: int
    sku: int
    name: int
    category: int
    quantity: int
    unit_price_fen: int
    amount_fen: int
    nickname: int


def _line_row(number: int, values: list[str], at: _LinePositions) -> OrderRow:
    external_id = values[at.customer_id] or None
    phone_text = values[at.phone]
    phone = _phone(phone_text) if phone_text else None
    if external_id is None and phone is None:
        raise RowError("give customer_id or phone")
    order_no = values[at.order_no]
    if not order_no or len(order_no) > 64:
        raise RowError("order_no is missing or longer than 64 characters")
    sku = values[at.sku]
    if not sku or len(sku) > 64:
        raise RowError("sku is missing or longer than 64 characters")
    if external_id is not None and len(external_id) > 64:
        raise RowError("customer_id is longer than 64 characters")
    quantity = _count(values[at.quantity], "quantity")
    unit_price = _count(values[at.unit_price_fen], "unit_price_fen")
    amount = _count(values[at.amount_fen], "amount_fen")
    if quantity == 0:
        raise RowError("quantity is 0")
    if amount > MAX_AMOUNT_FEN or unit_price > MAX_AMOUNT_FEN:
        raise RowError("amount is over one million yuan")
    return OrderRow(
        number,
        external_id,
        phone,
        _instant(values[at.paid_at]),
        amount,
        quantity,
        order_no,
        values[at.store_code] or None,
        values[at.nickname][:64],
        sku,
        values[at.name][:200],
        values[at.category][:64],
        unit_price,
    )


def _phone(value: str) -> str:
    compact = re.sub(r"[\s-]", "", value)
    if not _PHONE.match(compact):
        raise RowError(f"phone {value!r} is not a phone number")
    # Mainland numbers are stored as their 11 digits, as WeChat's phone binding stores them.
    return normalise_phone(compact)


def _day(value: str, fmt: str) -> date:
    try:
        return datetime.strptime(value, fmt).date()
    except ValueError as exc:
        raise RowError(f"date {value!r} is not a date") from exc


def _at_noon(day: date) -> datetime:
    return datetime.combine(day, NOON, tzinfo=clock.business_tz())


def _instant(value: str) -> datetime:
    """A business day (noon), a local business time, or an ISO instant with an offset."""
    if not value:
        raise RowError("paid_at is missing")
    if len(value) == 10:
        return _at_noon(_day(value, "%Y-%m-%d"))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise RowError(f"paid_at {value!r} is not a date or time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=clock.business_tz())
    return parsed


def _fen_from_units(value: str) -> int:
    """Yuan (or dollars) to fen, exactly: at most two decimals, nothing is rounded."""
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise RowError(f"amount {value!r} is not a number") from exc
    if not amount.is_finite() or amount < 0:
        raise RowError(f"amount {value!r} is not a non-negative number")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise RowError(f"amount {value!r} has more than two decimals")
    if fen > MAX_AMOUNT_FEN:
        raise RowError("amount is over one million yuan")
    return int(fen)


def _count(value: str, name: str) -> int:
    if not value.isdigit():
        raise RowError(f"{name} {value!r} is not a whole number")
    return int(value)
