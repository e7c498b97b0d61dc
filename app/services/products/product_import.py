"""Loading a product file (sku, name, category, brand) into the product table: an upsert, twice
the same as once, bad lines reported with their line numbers.

The house way of the order import (till.order_import): Python only parses and checks each line
and streams the good ones through COPY into a temporary staging table; one INSERT ... SELECT ...
ON CONFLICT merges them, the whole file in one transaction (a crash part-way leaves nothing).

Rules: the header names `sku` and any of `name`, `category`, `brand`. A cell left empty, or a
column the file does not have, keeps what the product has (a file of sku and brand adds brands
without wiping names); a new product gets '' there. A sku on several lines: the last line is
used, the earlier ones are reported. The file does not touch `last_seen_at`: an order line newer
than the last one seen still renames its sku, as it always has (the POS names what it sells).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from app import clock
from app.models.base import UTCDateTime
from app.services.till.order_rows import BadRow

COLUMNS = ("sku", "name", "category", "brand")
# The product table's widths (models.products.Product).
WIDTHS = {"sku": 64, "name": 200, "category": 64, "brand": 64}
BLOCK = 10_000  # lines written to COPY at a time


@dataclass
class ProductImportReport:
    lines: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[BadRow] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "lines": self.lines,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "bad": len(self.bad),
        }


def read_products(lines: Iterable[str]) -> Iterator[tuple | BadRow]:
    """(line, sku, name, category, brand) per good line (None: the file has no such column or
    left the cell empty), or the reason a line cannot be used."""
    reader = csv.reader(lines)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        return
    unknown = [name for name in header if name not in COLUMNS]
    if "sku" not in header or unknown or len(set(header)) != len(header):
        reason = "header must name sku and any of name, category, brand, each once"
        if unknown:
            reason += f"; unknown columns: {', '.join(unknown)}"
        yield BadRow(1, reason)
        return
    where = {name: header.index(name) for name in header}
    for record in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            yield BadRow(number, f"expected {len(header)} fields, found {len(record)}")
            continue
        values = {name: record[where[name]].strip() if name in where else "" for name in COLUMNS}
        if not values["sku"]:
            yield BadRow(number, "sku is empty")
            continue
        too_long = next((n for n in COLUMNS if len(values[n]) > WIDTHS[n]), None)
        if too_long:
            yield BadRow(number, f"{too_long} is longer than {WIDTHS[too_long]} characters")
            continue
        yield (number, *(values[name] or None for name in COLUMNS))


def import_products(
    session: Session, lines: Iterable[str], now: datetime | None = None
) -> ProductImportReport:
    """Create or update the products of a file; one transaction, committed at the end."""
    now = now or clock.now()
    report = ProductImportReport()
    session.execute(_CREATE_STAGE)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(
        "COPY product_stage (line_no, sku, name, category, brand) FROM STDIN WITH (FORMAT csv)"
    ) as copy:
        for row in read_products(lines):
            report.lines += 1
            if isinstance(row, BadRow):
                report.bad.append(row)
                continue
            writer.writerow(row)
            if report.lines % BLOCK == 0:
                copy.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
        copy.write(buffer.getvalue())
    merged = session.execute(_MERGE, {"now": now}).one()
    report.created, report.updated = int(merged.created or 0), int(merged.updated or 0)
    report.unchanged = int(merged.staged) - report.created - report.updated
    report.bad.extend(BadRow(line, reason) for line, reason in session.execute(_REPEATED))
    report.bad.sort(key=lambda bad: bad.line)
    session.execute(text("DROP TABLE product_stage"))
    session.commit()
    return report


_CREATE_STAGE = text(
    "CREATE TEMPORARY TABLE product_stage"
    " (line_no integer, sku text, name text, category text, brand text)"
)
# The last line of each sku; an empty cell keeps the product's value. Rows whose values would
# not change are not written (no new row version, updated_at kept): they count as unchanged.
_MERGE = text(
    """
    WITH last AS (
        SELECT DISTINCT ON (sku) sku, name, category, brand
        FROM product_stage ORDER BY sku, line_no DESC
    ), merged AS (
        INSERT INTO products AS p (sku, name, category, brand, last_seen_at, updated_at)
        SELECT sku, COALESCE(name, ''), COALESCE(category, ''), COALESCE(brand, ''), NULL, :now
        FROM last
        ON CONFLICT (sku) DO UPDATE
        SET name = COALESCE(NULLIF(EXCLUDED.name, ''), p.name),
            category = COALESCE(NULLIF(EXCLUDED.category, ''), p.category),
            brand = COALESCE(NULLIF(EXCLUDED.brand, ''), p.brand),
            updated_at = EXCLUDED.updated_at
        WHERE (p.name, p.category, p.brand) IS DISTINCT FROM (
            COALESCE(NULLIF(EXCLUDED.name, ''), p.name),
            COALESCE(NULLIF(EXCLUDED.category, ''), p.category),
            COALESCE(NULLIF(EXCLUDED.brand, ''), p.brand))
        RETURNING xmax = 0 AS created
    )
    SELECT (SELECT COUNT(*) FROM last) AS staged,
           (SELECT COUNT(*) FILTER (WHERE created) FROM merged) AS created,
           (SELECT COUNT(*) FILTER (WHERE NOT created) FROM merged) AS updated
    """
).bindparams(bindparam("now", type_=UTCDateTime()))
# Every line of a sku but its last: reported, not applied.
_REPEATED = text(
    """
    SELECT line_no, 'sku ' || sku || ' is on line ' || last_line || ' again: that line is used'
    FROM (SELECT line_no, sku, MAX(line_no) OVER (PARTITION BY sku) AS last_line
          FROM product_stage) s
    WHERE line_no < last_line
    """
)
