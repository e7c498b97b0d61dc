"""Loading historical purchases from a file, fast and safely: twice is the same as once.

Each good order becomes one purchase (source 'import', no points: it is history) for a member
matched by customer id (Member.external_id) or phone, or created; the `lines` format keeps the
order's lines (purchase_lines) and fills the product table. Bad lines are reported with their
line number and skipped (an order with a bad line is skipped whole).

How: Python only parses (order_rows) and streams the good lines through COPY into a temporary
staging table; everything else is set-based SQL over it -- stores and members matched in bulk,
missing members created in bulk (their member numbers and referral codes drawn in SQL), orders
checked against what is already there, purchases and lines inserted with INSERT ... SELECT. The
whole file is one transaction: a crash part-way leaves nothing merged, and running the file again
adds only what is missing (ON CONFLICT on the store's order number; an order already imported
with the same content is counted as such, one with other content is a bad line).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from app import clock
from app.models import Store
from app.models.base import UTCDateTime, insert_ignore
from app.services.till.order_rows import BadRow, OrderRow, read_rows

# History is older than the tills' floor (till.EARLIEST_PAID_ON, 2000; CDNOW is 1997-98) and than
# any store row, so neither applies here; a date before 1970 is a typo (0197 for 1997), which
# would make a member's history span centuries in the segments' model.
EARLIEST_PAID_ON = date(1970, 1, 1)
# The cdnow file names no store: its history goes to this store, created on first use.
CDNOW_STORE = ("CDNOW", "CDNOW (imported history)")
# Rounds of creating members: a member number or referral code drawn twice (one in billions), or
# two keys of the file meeting on one phone, leave a line without a member for the next round.
CREATE_ROUNDS = 5
PROGRESS_EVERY = 10_000

_STAGE_COLUMNS = (
    "line_no",
    "order_no",
    "fingerprint",
    "store_code",
    "external_id",
    "phone",
    "nickname",
    "paid_at",
    "amount_fen",
    "items",
    "sku",
    "name",
    "category",
    "unit_price_fen",
    "bad",
)


@dataclass
class ImportReport:
    lines: int = 0
    imported: int = 0
    already_imported: int = 0
    members_created: int = 0
    lines_stored: int = 0
    bad: list[BadRow] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "lines": self.lines,
            "imported": self.imported,
            "already_imported": self.already_imported,
            "members_created": self.members_created,
            "lines_stored": self.lines_stored,
            "bad": len(self.bad),
        }


def import_orders(
    session: Session,
    lines: Iterable[str],
    fmt: str,
    store_code: str | None = None,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a file of past orders; already imported orders and bad lines are skipped.

    `store_code` is the store for lines that name none (required for such CSV lines; the cdnow
    format defaults to a 'CDNOW' store). Imported purchases never earn points. `progress` is
    called with the number of lines read, every PROGRESS_EVERY lines.
    """
    now = now or clock.now()
    report = ImportReport()
    default_store = store_code or (CDNOW_STORE[0] if fmt == "cdnow" else None)
    if fmt == "cdnow" and default_store == CDNOW_STORE[0]:
        insert_ignore(session, Store, {"code": CDNOW_STORE[0], "name": CDNOW_STORE[1],
                                       "address": "", "is_active": True})  # fmt: skip
    session.execute(_CREATE_STAGE)
    _copy_rows(session, read_rows(lines, fmt), fmt, now, report, progress)
    session.execute(text("ANALYZE import_stage"))
    params = {"fmt": fmt, "default_store": default_store, "now": now}
    # Stores and order numbers; the orders, checked in the file and against what is there; then
    # members, only for the lines of new orders; then the writes.
    for statement in _MATCH_STORES:
        session.execute(statement, params)
    for statement in _ORDERS_LINES if fmt == "lines" else _ORDERS_ONE_PER_LINE:
        session.execute(statement, params)
    for statement in _CHECK_EXISTING:
        session.execute(statement, params)
    for _ in range(CREATE_ROUNDS):
        for statement in _MATCH_MEMBERS:
            session.execute(statement, params)
        created = session.execute(_CREATE_MEMBERS, params).rowcount
        report.members_created += created
        if not created:
            break
    for statement in _MEMBERS_TO_ORDERS:
        session.execute(statement, params)
    inserted = session.execute(_INSERT_PURCHASES, params).one()
    report.imported, report.lines_stored = int(inserted.purchases), int(inserted.lines)
    session.execute(_JOINED, params)
    if fmt == "lines":
        session.execute(_PRODUCTS, params)
    # Already imported: csv and cdnow count lines (a line is an order), `lines` counts orders.
    report.already_imported = session.execute(
        text(
            "SELECT COUNT(*) FROM import_orders WHERE bad IS NULL AND NOT is_new"
            if fmt == "lines"
            else "SELECT COUNT(*) FROM import_stage WHERE bad IS NULL AND done"
        )
    ).scalar_one()
    report.bad.extend(
        BadRow(line, reason)
        for line, reason in session.execute(
            text("SELECT line_no, bad FROM import_stage WHERE bad IS NOT NULL ORDER BY line_no")
        )
    )
    report.bad.sort(key=lambda bad: bad.line)
    session.execute(text("DROP TABLE import_stage"))
    session.execute(text("DROP TABLE import_orders"))
    session.commit()
    return report


_CREATE_STAGE = text(
    """
    CREATE TEMPORARY TABLE import_stage (
        line_no integer PRIMARY KEY, order_no text, fingerprint text, store_code text,
        external_id text, phone text, nickname text, paid_at timestamptz, amount_fen bigint,
        items integer, sku text, name text, category text, unit_price_fen bigint,
        store_id bigint, member_id bigint, bad text, done boolean NOT NULL DEFAULT false
    )
    """
)


def _copy_rows(session: Session, rows, fmt: str, now: datetime, report: ImportReport, progress):
    """Every good line into import_stage through COPY; lines Python refuses on their own
    (unreadable, in the future, before 1970) into the report, or, for a line of an order of
    the `lines` format, into import_stage as bad (its order is then skipped whole)."""
    latest = now + timedelta(minutes=1)
    earliest = datetime.combine(EARLIEST_PAID_ON, datetime.min.time(), tzinfo=clock.business_tz())
    too_early = f"paid_at is before {EARLIEST_PAID_ON.isoformat()}"
    columns = ", ".join(_STAGE_COLUMNS)
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY import_stage ({columns}) FROM STDIN") as copy:
        for row in rows:
            report.lines += 1
            if progress is not None and report.lines % PROGRESS_EVERY == 0:
                progress(report.lines)
            if isinstance(row, BadRow):
                if row.order_no is None:
                    report.bad.append(row)
                else:
                    copy.write_row(_bad_line(row.line, row.order_no, row.store_code, row.reason))
                continue
            if row.paid_at > latest:
                reason = "paid_at is in the future"
            elif row.paid_at < earliest:
                reason = too_early
            else:
                copy.write_row(
                    (
                        row.line,
                        row.order_no,
                        None if fmt == "lines" else _fingerprint(row),
                        row.store_code,
                        row.external_id,
                        row.phone,
                        row.nickname,
                        row.paid_at,
                        row.amount_fen,
                        row.items,
                        row.sku,
                        row.name,
                        row.category,
                        row.unit_price_fen,
                        None,
                    )
                )
                continue
            if fmt == "lines":
                copy.write_row(_bad_line(row.line, row.order_no, row.store_code, reason))
            else:
                report.bad.append(BadRow(row.line, reason))
    if progress is not None:
        progress(report.lines)


def _bad_line(line: int, order_no: str | None, store_code: str | None, reason: str) -> tuple:
    """A bad line of the `lines` format, staged so that its order is skipped whole."""
    return (line, order_no, None, store_code, *(None,) * (len(_STAGE_COLUMNS) - 5), reason)


def _fingerprint(row: OrderRow) -> str:
    """What an order of the csv and cdnow formats is, to tell a re-import from a clash."""
    content = "|".join(
        str(part)
        for part in (
            row.external_id or "",
            row.phone or "",
            row.paid_at.isoformat(),
            row.amount_fen,
            row.items,
        )
    )
    return hashlib.sha256(content.encode()).hexdigest()


def _sql(statement: str):
    clause = text(statement)
    return (
        clause.bindparams(bindparam("now", type_=UTCDateTime())) if ":now" in statement else clause
    )


# The store a line names, else the run's (:default_store).
_STORE_CODE = "COALESCE(store_code, CAST(:default_store AS text))"

# Stores: unknown codes are bad lines. Lines without an order number (csv, cdnow) get one
# derived from their content: the n-th copy of the same content in a file is its n-th order
# (the same number on every run, and the same as the row-by-row importer gave).
_MATCH_STORES = [
    _sql(
        f"""
        UPDATE import_stage s SET store_id = st.id FROM stores st
        WHERE s.bad IS NULL AND st.code = {_STORE_CODE.replace("store_code", "s.store_code")}
        """
    ),
    _sql(
        f"""
        UPDATE import_stage SET bad = CASE
            WHEN {_STORE_CODE} IS NULL
                THEN 'no store: add a store_code column or run with --store CODE'
            ELSE 'unknown store code ' || quote_literal({_STORE_CODE})
        END
        WHERE store_id IS NULL AND bad IS NULL
        """
    ),
    _sql(
        """
        UPDATE import_stage s
        SET order_no = 'imp-' || left(encode(sha256(convert_to(
                CAST(:fmt AS text) || '|' || s.fingerprint || '|' || d.n, 'UTF8')), 'hex'), 40)
        FROM (SELECT line_no, row_number() OVER (PARTITION BY fingerprint ORDER BY line_no) AS n
              FROM import_stage WHERE order_no IS NULL AND bad IS NULL) d
        WHERE s.line_no = d.line_no
        """
    ),
]

# Members: by customer id, else by phone; a member found by phone without a customer id gets the
# file's (the first line's, when two customer ids meet on one phone: the others are bad lines).
_MATCH_MEMBERS = [
    _sql(
        """
        UPDATE import_stage s SET member_id = m.id FROM members m
        WHERE s.member_id IS NULL AND s.bad IS NULL AND NOT s.done AND s.external_id IS NOT NULL
          AND m.external_id = s.external_id
        """
    ),
    _sql(
        """
        UPDATE import_stage s SET member_id = m.id FROM members m
        WHERE s.member_id IS NULL AND s.bad IS NULL AND NOT s.done AND s.phone IS NOT NULL
          AND m.phone = s.phone
        """
    ),
    _sql(
        """
        UPDATE members m SET external_id = f.external_id, updated_at = :now
        FROM (SELECT DISTINCT ON (member_id) member_id, external_id FROM import_stage
              WHERE bad IS NULL AND member_id IS NOT NULL AND external_id IS NOT NULL
              ORDER BY member_id, line_no) f
        WHERE m.id = f.member_id AND m.external_id IS NULL
          AND NOT EXISTS (SELECT FROM members o WHERE o.external_id = f.external_id)
        """
    ),
    _sql(
        """
        UPDATE import_stage s
        SET member_id = NULL, bad = 'phone ' || s.phone || ' belongs to another customer id'
        FROM members m
        WHERE s.member_id = m.id AND s.bad IS NULL AND s.external_id IS NOT NULL
          AND m.external_id IS DISTINCT FROM s.external_id
        """
    ),
]

# A member number: 11 random digits (the first not 0) and a Luhn check digit, as
# identifiers.new_member_no draws them; a referral code: 8 Crockford characters. Random bits
# from gen_random_uuid (a CSPRNG in PostgreSQL 13+), never random(); drawn in the target list of
# a subquery kept apart (OFFSET 0), so that each row draws its own, once.
_RANDOM_60 = "('x' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 15))::bit(60)::bigint"
_LUHN = """(
    SELECT ((10 - SUM(CASE WHEN i % 2 = 1 THEN d * 2 - CASE WHEN d > 4 THEN 9 ELSE 0 END
                           ELSE d END) % 10) % 10)::text
    FROM (SELECT i, substr(x.body, 12 - i, 1)::int AS d FROM generate_series(1, 11) i) g
)"""
_REFERRAL_CODE = """(
    SELECT string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ',
                             1 + ((x.r >> (5 * k)) & 31)::int, 1), '' ORDER BY k)
    FROM generate_series(0, 7) k
)"""
# New members, one per customer id (or phone, for lines without one) not found, from its first
# line: phone, store, nickname; joined at their first purchase (see _JOINED). A clash on any
# unique column inserts nothing for that key; the next round matches or draws again.
_CREATE_MEMBERS = _sql(
    f"""
    INSERT INTO members (member_no, external_id, phone, referral_code, store_id, joined_at,
                         updated_at, nickname, avatar_url, gender, tier_code, points_balance)
    SELECT x.body || {_LUHN}, x.external_id, x.phone, {_REFERRAL_CODE}, x.store_id, x.paid_at,
           :now, x.nickname, '', 0, '', 0
    FROM (SELECT k.*, (10000000000 + {_RANDOM_60} % 90000000000)::text AS body,
                 {_RANDOM_60} AS r
          FROM (SELECT DISTINCT ON (COALESCE(external_id, 'phone:' || phone))
                       external_id, phone, store_id, paid_at, COALESCE(nickname, '') AS nickname
                FROM import_stage WHERE member_id IS NULL AND bad IS NULL AND NOT done
                ORDER BY COALESCE(external_id, 'phone:' || phone), line_no) k
          OFFSET 0) x
    ON CONFLICT DO NOTHING
    """
)
# After the members: a line left without one is bad, an order with a bad line is bad (its
# other lines too; csv and cdnow: a bad first line, the order itself), and every order takes
# its first line's member.
_MEMBERS_TO_ORDERS = [
    _sql(
        "UPDATE import_stage SET bad = 'could not create the member; run the import again'"
        " WHERE member_id IS NULL AND bad IS NULL AND NOT done"
    ),
    _sql(
        """
        UPDATE import_orders o SET bad = s.bad FROM import_stage s
        WHERE o.bad IS NULL AND o.is_new AND s.bad IS NOT NULL AND s.store_id = o.store_id
          AND s.order_no = o.order_no
          AND (CAST(:fmt AS text) = 'lines' OR s.line_no = o.first_line)
        """
    ),
    _sql(
        """
        UPDATE import_stage s SET bad = 'another line of order ' || s.order_no || ' is bad'
        FROM import_orders o
        WHERE o.bad IS NOT NULL AND s.bad IS NULL AND s.store_id = o.store_id
          AND s.order_no = o.order_no
        """
    ),
    _sql(
        """
        UPDATE import_orders o SET member_id = s.member_id FROM import_stage s
        WHERE o.bad IS NULL AND o.is_new AND s.line_no = o.first_line
        """
    ),
]

# Orders. csv and cdnow: a line is an order; a later line with the same store and order number
# is the same order again (the same content) or a clash (other content).
_ORDERS_ONE_PER_LINE = [
    _sql(
        """
        CREATE TEMPORARY TABLE import_orders AS
        SELECT DISTINCT ON (store_id, order_no) store_id, order_no, line_no AS first_line,
               CAST(NULL AS bigint) AS member_id, paid_at, amount_fen, items, fingerprint,
               CAST(NULL AS text) AS bad, false AS is_new
        FROM import_stage WHERE bad IS NULL ORDER BY store_id, order_no, line_no
        """
    ),
    _sql(
        """
        UPDATE import_stage s
        SET bad = 'order ' || s.order_no || ' already exists at this store with other details'
        FROM import_orders o
        WHERE s.bad IS NULL AND o.store_id = s.store_id AND o.order_no = s.order_no
          AND s.line_no <> o.first_line AND s.fingerprint <> o.fingerprint
        """
    ),
    _sql(
        """
        UPDATE import_stage s SET done = true FROM import_orders o
        WHERE s.bad IS NULL AND o.store_id = s.store_id AND o.order_no = s.order_no
          AND s.line_no <> o.first_line
        """
    ),
]
# lines: an order is its lines (one store, one order number) with one customer and one time;
# its amount is the lines' sum, its fingerprint their content. An order with a bad line is
# skipped whole.
_ORDERS_LINES = [
    _sql(
        f"""
        UPDATE import_stage s SET bad = 'another line of order ' || s.order_no || ' is bad'
        FROM (SELECT DISTINCT {_STORE_CODE} AS store, order_no FROM import_stage
              WHERE bad IS NOT NULL AND order_no IS NOT NULL) b
        WHERE s.bad IS NULL AND s.order_no = b.order_no
          AND {_STORE_CODE.replace("store_code", "s.store_code")} IS NOT DISTINCT FROM b.store
        """
    ),
    _sql(
        """
        CREATE TEMPORARY TABLE import_orders AS
        SELECT store_id, order_no, MIN(line_no) AS first_line, CAST(NULL AS bigint) AS member_id,
               MIN(paid_at) AS paid_at, SUM(amount_fen) AS amount_fen,
               CAST(SUM(items) AS integer) AS items,
               encode(sha256(convert_to(string_agg(
                   concat_ws('|', external_id, phone, EXTRACT(EPOCH FROM paid_at), sku, items,
                             unit_price_fen, amount_fen), ';' ORDER BY line_no), 'UTF8')), 'hex')
                   AS fingerprint,
               CASE WHEN COUNT(DISTINCT COALESCE(external_id, 'phone:' || phone)) > 1
                         OR COUNT(DISTINCT paid_at) > 1
                    THEN 'the lines of order ' || order_no || ' name different customers or times'
               END AS bad,
               false AS is_new
        FROM import_stage WHERE bad IS NULL GROUP BY store_id, order_no
        """
    ),
]
# Against what is there: an order already imported with the same content is skipped; any other
# order with its number at the store is a clash, and its lines are bad.
_CHECK_EXISTING = [
    _sql(
        """
        UPDATE import_orders o
        SET bad = 'order ' || o.order_no || ' already exists at this store with other details'
        FROM purchases p
        WHERE o.bad IS NULL AND p.store_id = o.store_id AND p.order_no = o.order_no
          AND (p.fingerprint <> o.fingerprint OR p.source <> 'import')
        """
    ),
    _sql(
        """
        UPDATE import_orders o SET is_new = true
        WHERE o.bad IS NULL AND NOT EXISTS (
            SELECT FROM purchases p WHERE p.store_id = o.store_id AND p.order_no = o.order_no)
        """
    ),
    _sql(
        """
        UPDATE import_stage s SET bad = o.bad, done = o.bad IS NULL FROM import_orders o
        WHERE (o.bad IS NOT NULL OR NOT o.is_new) AND s.bad IS NULL
          AND s.store_id = o.store_id AND s.order_no = o.order_no
        """
    ),
]
# New purchases and, for the lines format, their lines, in one statement. ON CONFLICT: an
# import of the same file running at once adds each order once.
_INSERT_PURCHASES = _sql(
    """
    WITH inserted AS (
        INSERT INTO purchases (store_id, order_no, member_id, source, amount_fen, refunded_fen,
                               items, points_awarded, points_reversed, fingerprint, paid_at,
                               created_at)
        SELECT store_id, order_no, member_id, 'import', amount_fen, 0, items, 0, 0, fingerprint,
               paid_at, :now
        FROM import_orders WHERE is_new AND bad IS NULL
        ON CONFLICT (store_id, order_no) DO NOTHING
        RETURNING id, store_id, order_no
    ), lines AS (
        INSERT INTO purchase_lines (purchase_id, line_no, sku, name, category, quantity,
                                    unit_price_fen, amount_fen, refunded_fen)
        SELECT i.id, row_number() OVER (PARTITION BY i.id ORDER BY s.line_no), s.sku,
               COALESCE(s.name, ''), COALESCE(s.category, ''), s.items, s.unit_price_fen,
               s.amount_fen, 0
        FROM inserted i JOIN import_stage s ON s.store_id = i.store_id AND s.order_no = i.order_no
        WHERE s.sku IS NOT NULL AND s.bad IS NULL AND NOT s.done
        RETURNING 1
    )
    SELECT (SELECT COUNT(*) FROM inserted) AS purchases, (SELECT COUNT(*) FROM lines) AS lines
    """
)
# Members known only from history (never signed in) joined at their first purchase.
_JOINED = _sql(
    """
    UPDATE members m SET joined_at = f.first_paid, updated_at = :now
    FROM (SELECT member_id, MIN(paid_at) AS first_paid FROM import_stage
          WHERE bad IS NULL AND member_id IS NOT NULL GROUP BY member_id) f
    WHERE m.id = f.member_id AND m.openid IS NULL AND m.joined_at > f.first_paid
    """
)
# Products from the lines: a sku's name and category as its newest line has them.
_PRODUCTS = _sql(
    """
    INSERT INTO products (sku, name, category, brand, last_seen_at, updated_at)
    SELECT DISTINCT ON (sku) sku, COALESCE(name, ''), COALESCE(category, ''), '', paid_at, :now
    FROM import_stage WHERE bad IS NULL ORDER BY sku, paid_at DESC, line_no DESC
    ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, category = EXCLUDED.category,
        last_seen_at = EXCLUDED.last_seen_at, updated_at = EXCLUDED.updated_at
    WHERE products.last_seen_at IS NULL OR products.last_seen_at <= EXCLUDED.last_seen_at
    """
)
