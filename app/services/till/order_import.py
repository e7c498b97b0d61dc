"""Loading historical purchases from a file, fast and safely: twice is the same as once.

Each good order becomes one purchase (source 'import', no points: it is history) for a member
matched by customer id (Member.external_id) or phone, or created; the `lines` format keeps the
order's lines (purchase_lines) and fills the product table. Bad lines are reported with their
line number and skipped (an order with a bad line is skipped whole).

How: Python only parses (order_rows) and streams the good lines through COPY into a temporary
staging table, written once; everything else is set-based SQL over it -- the orders built and
checked in one statement (against each other and what is already there), their customers
matched in bulk and the missing members created in bulk (member numbers and referral codes drawn
in SQL), purchases and lines inserted with INSERT ... SELECT. The
whole file is one transaction: a crash part-way leaves nothing merged, and running the file again
adds only what is missing (ON CONFLICT on the store's order number; an order already imported
with the same content is counted as such, one with other content is a bad line).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from app import clock, encryption
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
# The merge's joins and sorts over a million staged lines stay in memory (one import at a time;
# the default 4 MB spills them to disk).
IMPORT_WORK_MEM = "256MB"

_STAGE_COLUMNS = (
    "line_no",
    "order_no",
    "fingerprint",
    "store_code",
    "external_id",
    "phone",
    "phone_hash",
    "phone_encrypted",
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
    session.execute(text(f"SET LOCAL work_mem = '{IMPORT_WORK_MEM}'"))
    session.execute(_CREATE_STAGE)
    _copy_rows(session, read_rows(lines, fmt), fmt, now, report, progress)
    session.execute(text("ANALYZE import_stage"))
    params = {"fmt": fmt, "default_store": default_store, "now": now}
    # The orders, checked in the file and against what is there (one statement); their
    # customers, matched or created; then the writes. The staging table is written once.
    session.execute(_ORDERS_LINES if fmt == "lines" else _ORDERS_ONE_PER_LINE, params)
    session.execute(text("ANALYZE import_orders"))
    session.execute(_CUSTOMERS, params)
    for _ in range(CREATE_ROUNDS):
        for statement in _MATCH_CUSTOMERS:
            session.execute(statement, params)
        created = session.execute(_CREATE_MEMBERS, params).rowcount
        report.members_created += created
        if not created:
            break
    session.execute(_MEMBERS_TO_ORDERS, params)
    inserted = session.execute(_INSERT_PURCHASES, params).one()
    report.imported, report.lines_stored = int(inserted.purchases), int(inserted.lines)
    session.execute(_JOINED, params)
    if fmt == "lines":
        session.execute(_PRODUCTS, params)
    report.already_imported = session.execute(
        text("SELECT COUNT(*) FROM import_orders WHERE bad IS NULL AND NOT is_new")
    ).scalar_one()
    report.bad.extend(
        BadRow(line, reason)
        for line, reason in session.execute(_BAD_LINES if fmt == "lines" else _BAD_ORDERS, params)
    )
    report.bad.sort(key=lambda bad: bad.line)
    for table in ("import_stage", "import_orders", "import_customers"):
        session.execute(text(f"DROP TABLE {table}"))
    session.commit()
    return report


_CREATE_STAGE = text(
    """
    CREATE TEMPORARY TABLE import_stage (
        line_no integer, order_no text, fingerprint text, store_code text, external_id text,
        phone text, phone_hash text, phone_encrypted text, nickname text, paid_at timestamptz,
        amount_fen bigint, items integer,
        sku text, name text, category text, unit_price_fen bigint, bad text
    )
    """
)


def _copy_rows(session: Session, rows, fmt: str, now: datetime, report: ImportReport, progress):
    """Every good line into import_stage through COPY (CSV written by the csv module, sent in
    blocks); lines Python refuses on their own (unreadable, in the future, before 1970) into
    the report, or, for a line of an order of the `lines` format, into import_stage as bad (its
    order is then skipped whole). Empty text is NULL in the staging table. Each phone's keyed
    hash (what members are matched on) and its encryption (what a new member keeps) are made
    here, once per phone of the file, as its lines stream by: SQL has neither key."""
    latest = now + timedelta(minutes=1)
    earliest = datetime.combine(EARLIEST_PAID_ON, datetime.min.time(), tzinfo=clock.business_tz())
    too_early = f"paid_at is before {EARLIEST_PAID_ON.isoformat()}"
    lines_format = fmt == "lines"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = ", ".join(_STAGE_COLUMNS)
    phones: dict[str, tuple[str, str]] = {}

    def protected(phone: str | None) -> tuple[str | None, str | None]:
        if not phone:
            return None, None
        found = phones.get(phone)
        if found is None:
            found = phones[phone] = (encryption.phone_hash(phone), encryption.encrypt(phone))
        return found

    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY import_stage ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
        for row in rows:
            report.lines += 1
            if report.lines % PROGRESS_EVERY == 0:
                copy.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
                if progress is not None:
                    progress(report.lines)
            if isinstance(row, BadRow):
                if row.order_no is None:
                    report.bad.append(row)
                else:
                    writer.writerow(_bad_line(row.line, row.order_no, row.store_code, row.reason))
                continue
            if row.paid_at > latest:
                reason = "paid_at is in the future"
            elif row.paid_at < earliest:
                reason = too_early
            else:
                writer.writerow(
                    (
                        row.line,
                        row.order_no,
                        None if lines_format else _fingerprint(row),
                        row.store_code,
                        row.external_id,
                        row.phone,
                        *protected(row.phone),
                        row.nickname,
                        row.paid_at.isoformat(),
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
            if lines_format:
                writer.writerow(_bad_line(row.line, row.order_no, row.store_code, reason))
            else:
                report.bad.append(BadRow(row.line, reason))
        copy.write(buffer.getvalue())
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
    if ":now" in statement:
        return clause.bindparams(bindparam("now", type_=UTCDateTime()))
    return clause


# The store a line names, else the run's.
_STORE_CODE = "COALESCE(s.store_code, CAST(:default_store AS text))"
# Who a line is: its customer id, else its phone.
_CUSTOMER = "COALESCE(s.external_id, 'phone:' || s.phone)"
# Why an order cannot be imported because of its store.
_STORE_BAD = f"""CASE WHEN st.id IS NULL THEN CASE
        WHEN {_STORE_CODE} IS NULL THEN 'no store: add a store_code column or run with --store CODE'
        ELSE 'unknown store code ' || quote_literal({_STORE_CODE}) END END"""
# An order already there: the same order imported before (same content) is skipped; any other
# order with its number at the store is a clash.
_CLASH = """CASE WHEN p.id IS NOT NULL AND (p.fingerprint <> o.fingerprint OR p.source <> 'import')
        THEN 'order ' || o.order_no || ' already exists at this store with other details' END"""

# csv and cdnow: a line is an order. Lines without an order number get one derived from their
# content: the n-th copy of the same content in a file is its n-th order (the same number on
# every run, and the one the row-by-row importer gave). A later line with the same store and
# order number is the same order again (same content: already imported) or a clash.
_ORDERS_ONE_PER_LINE = _sql(
    f"""
    CREATE TEMPORARY TABLE import_orders AS
    SELECT o.*, p.id IS NULL AND o.copy_no = 1 AS is_new,
           COALESCE(o.store_bad, o.copy_bad, {_CLASH}) AS bad,
           CAST(NULL AS bigint) AS member_id
    FROM (
        SELECT n.*, row_number() OVER w AS copy_no,
               CASE WHEN n.fingerprint <> first_value(n.fingerprint) OVER w
                    THEN 'order ' || n.order_no
                         || ' already exists at this store with other details' END AS copy_bad
        FROM (
            SELECT s.line_no AS first_line, {_STORE_CODE} AS store_code, st.id AS store_id,
                   COALESCE(s.order_no, 'imp-' || left(encode(sha256(convert_to(
                       CAST(:fmt AS text) || '|' || s.fingerprint || '|' || row_number() OVER (
                           PARTITION BY s.order_no IS NULL, s.fingerprint ORDER BY s.line_no),
                       'UTF8')), 'hex'), 40)) AS order_no,
                   {_CUSTOMER} AS customer, s.external_id, s.phone, s.phone_hash,
                   s.phone_encrypted, s.nickname, s.paid_at,
                   s.amount_fen, s.items, s.fingerprint, {_STORE_BAD} AS store_bad
            FROM import_stage s LEFT JOIN stores st ON st.code = {_STORE_CODE}
        ) n
        WINDOW w AS (PARTITION BY n.store_code, n.order_no ORDER BY n.first_line)
    ) o
    LEFT JOIN purchases p ON p.store_id = o.store_id AND p.order_no = o.order_no
    """
)
# lines: an order is its lines (one store, one order number) with one customer and one time; its
# amount is the lines' sum, its fingerprint their content. An order with a bad line is bad.
_ORDERS_LINES = _sql(
    f"""
    CREATE TEMPORARY TABLE import_orders AS
    SELECT o.*, p.id IS NULL AS is_new, COALESCE(o.order_bad, {_CLASH}) AS bad,
           CAST(NULL AS bigint) AS member_id
    FROM (
        SELECT {_STORE_CODE} AS store_code, MIN(st.id) AS store_id, s.order_no,
               MIN(s.line_no) AS first_line, MIN({_CUSTOMER}) AS customer,
               MIN(s.external_id) AS external_id, MIN(s.phone) AS phone,
               (array_agg(s.phone_hash ORDER BY s.phone)
                    FILTER (WHERE s.phone IS NOT NULL))[1] AS phone_hash,
               (array_agg(s.phone_encrypted ORDER BY s.phone)
                    FILTER (WHERE s.phone IS NOT NULL))[1] AS phone_encrypted,
               MIN(s.nickname) AS nickname, MIN(s.paid_at) AS paid_at,
               SUM(s.amount_fen) AS amount_fen, CAST(SUM(s.items) AS integer) AS items,
               encode(sha256(convert_to(string_agg(concat_ws('|', s.external_id, s.phone,
                   EXTRACT(EPOCH FROM s.paid_at), s.sku, s.items, s.unit_price_fen,
                   s.amount_fen), ';' ORDER BY s.line_no), 'UTF8')), 'hex') AS fingerprint,
               CASE WHEN bool_or(s.bad IS NOT NULL)
                        THEN 'another line of order ' || s.order_no || ' is bad'
                    WHEN MIN(st.id) IS NULL THEN MIN({_STORE_BAD})
                    WHEN COUNT(DISTINCT {_CUSTOMER}) > 1 OR COUNT(DISTINCT s.paid_at) > 1
                        THEN 'the lines of order ' || s.order_no
                             || ' name different customers or times'
               END AS order_bad
        FROM import_stage s LEFT JOIN stores st ON st.code = {_STORE_CODE}
        GROUP BY 1, s.order_no
    ) o
    LEFT JOIN purchases p ON p.store_id = o.store_id AND p.order_no = o.order_no
    """
)

# The customers of the new orders, each from its first line: customer id, phone, store,
# nickname, time (they joined at their first purchase: see _JOINED).
_CUSTOMERS = _sql(
    """
    CREATE TEMPORARY TABLE import_customers AS
    SELECT DISTINCT ON (customer) customer, first_line, external_id, phone, phone_hash,
           phone_encrypted, store_id, paid_at,
           COALESCE(nickname, '') AS nickname, CAST(NULL AS bigint) AS member_id,
           CAST(NULL AS text) AS bad
    FROM import_orders WHERE is_new AND bad IS NULL
    ORDER BY customer, first_line
    """
)
# By customer id, else by phone; a member found by phone without a customer id gets the
# file's; a phone whose member has another customer id is a bad line.
_MATCH_CUSTOMERS = [
    _sql(
        """
        UPDATE import_customers c SET member_id = m.id FROM members m
        WHERE c.member_id IS NULL AND c.bad IS NULL AND m.external_id = c.external_id
        """
    ),
    _sql(
        """
        UPDATE import_customers c
        SET member_id = CASE WHEN m.external_id IS NULL OR c.external_id IS NULL THEN m.id END,
            bad = CASE WHEN m.external_id IS NOT NULL AND c.external_id IS NOT NULL
                       THEN 'phone ' || c.phone || ' belongs to another customer id' END
        FROM members m
        WHERE c.member_id IS NULL AND c.bad IS NULL AND m.phone_hash = c.phone_hash
        """
    ),
    _sql(
        """
        UPDATE members m SET external_id = c.external_id, updated_at = :now
        FROM (SELECT DISTINCT ON (member_id) member_id, external_id FROM import_customers
              WHERE member_id IS NOT NULL AND external_id IS NOT NULL
              ORDER BY member_id, first_line) c
        WHERE m.id = c.member_id AND m.external_id IS NULL
        """
    ),
    # Two customer ids of the file on one phone: the first has the member, the others are bad.
    _sql(
        """
        UPDATE import_customers c
        SET member_id = NULL, bad = 'phone ' || c.phone || ' belongs to another customer id'
        FROM members m
        WHERE c.member_id = m.id AND c.external_id IS NOT NULL
          AND m.external_id IS DISTINCT FROM c.external_id
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
# New members for the customers not found. A clash on any unique column (a number drawn twice,
# two customers of the file on one phone, an import running at once) inserts nothing for that
# customer; the next round matches or draws again.
_CREATE_MEMBERS = _sql(
    f"""
    INSERT INTO members (member_no, external_id, phone_hash, phone_encrypted, referral_code,
                         store_id, joined_at, updated_at, nickname, avatar_url, gender,
                         tier_code, points_balance)
    SELECT x.body || {_LUHN}, x.external_id, x.phone_hash, x.phone_encrypted, {_REFERRAL_CODE},
           x.store_id, x.paid_at,
           :now, x.nickname, '', 0, '', 0
    FROM (SELECT c.*, (10000000000 + {_RANDOM_60} % 90000000000)::text AS body,
                 {_RANDOM_60} AS r
          FROM import_customers c WHERE c.member_id IS NULL AND c.bad IS NULL OFFSET 0) x
    ON CONFLICT DO NOTHING
    """
)
# Every new order takes its customer's member, or its customer's reason.
_MEMBERS_TO_ORDERS = _sql(
    """
    UPDATE import_orders o
    SET member_id = c.member_id,
        bad = COALESCE(c.bad, CASE WHEN c.member_id IS NULL
                                   THEN 'could not create the member; run the import again' END)
    FROM import_customers c
    WHERE o.is_new AND o.bad IS NULL AND c.customer = o.customer
    """
)
# New purchases and, for the lines format, their lines, in one statement. ON CONFLICT: an
# import of the same file running at once adds each order once.
_INSERT_PURCHASES = _sql(
    f"""
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
        FROM inserted i
        JOIN import_orders o ON o.store_id = i.store_id AND o.order_no = i.order_no
        JOIN import_stage s ON s.order_no = o.order_no AND {_STORE_CODE} = o.store_code
        WHERE CAST(:fmt AS text) = 'lines' AND s.sku IS NOT NULL
        RETURNING 1
    )
    SELECT (SELECT COUNT(*) FROM inserted) AS purchases, (SELECT COUNT(*) FROM lines) AS lines
    """
)
# Members known only from history (never signed in) joined at their first purchase.
_JOINED = _sql(
    """
    UPDATE members m SET joined_at = f.first_paid, updated_at = :now
    FROM (SELECT member_id, MIN(paid_at) AS first_paid FROM import_orders
          WHERE bad IS NULL AND member_id IS NOT NULL GROUP BY member_id) f
    WHERE m.id = f.member_id AND m.openid IS NULL AND m.joined_at > f.first_paid
    """
)
# Products from the lines of good orders: a sku's name and category as its newest line has them.
_PRODUCTS = _sql(
    f"""
    INSERT INTO products (sku, name, category, brand, last_seen_at, updated_at)
    SELECT DISTINCT ON (s.sku) s.sku, COALESCE(s.name, ''), COALESCE(s.category, ''), '',
           s.paid_at, :now
    FROM import_stage s
    JOIN import_orders o ON o.order_no = s.order_no AND o.store_code = {_STORE_CODE}
    WHERE o.bad IS NULL AND s.sku IS NOT NULL
    ORDER BY s.sku, s.paid_at DESC, s.line_no DESC
    ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, category = EXCLUDED.category,
        last_seen_at = EXCLUDED.last_seen_at, updated_at = EXCLUDED.updated_at
    WHERE products.last_seen_at IS NULL OR products.last_seen_at <= EXCLUDED.last_seen_at
    """
)
# The bad lines: csv and cdnow, the orders' (a line is an order); lines, a line's own reason,
# else its order's.
_BAD_ORDERS = _sql("SELECT first_line, bad FROM import_orders WHERE bad IS NOT NULL")
_BAD_LINES = _sql(
    f"""
    SELECT s.line_no, COALESCE(s.bad, o.bad)
    FROM import_stage s
    JOIN import_orders o
         ON o.order_no = s.order_no AND o.store_code IS NOT DISTINCT FROM {_STORE_CODE}
    WHERE s.bad IS NOT NULL OR o.bad IS NOT NULL
    """
)
