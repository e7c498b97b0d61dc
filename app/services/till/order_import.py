"""Loading historical purchases from a file, safely: twice is the same as once.

Each good line becomes one purchase (source 'import', no points: it is history) for a member
matched by customer id (Member.external_id) or phone, or created. A line is all-or-nothing (its
checks all run before it writes anything); bad lines are reported with their line number and
skipped. The file is NOT one transaction: lines are committed in batches of BATCH_SIZE whole
lines, so a crash part-way keeps the batches already committed, and running the same file again
adds only what is missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from app import clock
from app.models import Member, Purchase, Store
from app.models.base import UTCDateTime, insert_ignore
from app.services import identifiers
from app.services.till.order_rows import BadRow, OrderRow, RowError, read_rows

BATCH_SIZE = 1000
# History is older than the tills' floor (till.EARLIEST_PAID_ON, 2000; CDNOW is 1997-98) and than
# any store row, so neither applies here; a date before 1970 is a typo (0197 for 1997), which
# would make a member's history span centuries in the segments' model.
EARLIEST_PAID_ON = date(1970, 1, 1)
# The cdnow file names no store: its history goes to this store, created on first use.
CDNOW_STORE = ("CDNOW", "CDNOW (imported history)")


@dataclass
class ImportReport:
    lines: int = 0
    imported: int = 0
    already_imported: int = 0
    members_created: int = 0
    bad: list[BadRow] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "lines": self.lines,
            "imported": self.imported,
            "already_imported": self.already_imported,
            "members_created": self.members_created,
            "bad": len(self.bad),
        }


@dataclass
class _Seen:
    """Ids already resolved in this run, so each member and store is looked up once."""

    by_external_id: dict[str, int] = field(default_factory=dict)
    stores: dict[str, int | None] = field(default_factory=dict)
    occurrences: dict[str, int] = field(default_factory=dict)


def import_orders(
    session: Session,
    lines: Iterable[str],
    fmt: str,
    store_code: str | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import a file of past orders; already imported orders and bad lines are skipped.

    `store_code` is the store for lines that name none (required for such CSV lines; the cdnow
    format defaults to a 'CDNOW' store). Imported purchases never earn points.
    """
    now = now or clock.now()
    report = ImportReport()
    seen = _Seen()
    default_store = store_code or (CDNOW_STORE[0] if fmt == "cdnow" else None)
    if fmt == "cdnow" and default_store == CDNOW_STORE[0]:
        _ensure_store(session, *CDNOW_STORE)
    pending = 0
    for row in read_rows(lines, fmt):
        report.lines += 1
        if isinstance(row, BadRow):
            report.bad.append(row)
            continue
        try:
            outcome = _import_row(session, row, fmt, default_store, seen, now)
        except RowError as err:
            # Every check that can refuse a line runs before the line writes anything.
            report.bad.append(BadRow(row.line, str(err)))
            continue
        report.imported += outcome["imported"]
        report.already_imported += not outcome["imported"]
        report.members_created += outcome["created"]
        pending += 1
        if pending >= BATCH_SIZE:
            session.commit()
            pending = 0
    session.commit()
    return report


def _import_row(
    session: Session, row: OrderRow, fmt: str, default_store: str | None, seen: _Seen, now
) -> dict:
    """One line: checks first (they may refuse it), then the writes (member, purchase)."""
    # Numbered first, so that a line's number never depends on which earlier lines failed.
    order_no = row.order_no or _derived_order_no(fmt, row, seen)
    if row.paid_at > now + timedelta(minutes=1):
        raise RowError("paid_at is in the future")
    if clock.business_date(row.paid_at) < EARLIEST_PAID_ON:
        raise RowError(f"paid_at is before {EARLIEST_PAID_ON.isoformat()}")
    store_id = _store_id(session, row.store_code or default_store, seen)
    fingerprint = _fingerprint(row)
    existing = session.execute(
        select(Purchase.fingerprint, Purchase.source).where(
            Purchase.store_id == store_id, Purchase.order_no == order_no
        )
    ).one_or_none()
    if existing is not None:
        if existing.fingerprint != fingerprint or existing.source != "import":
            raise RowError(f"order {order_no} already exists at this store with other details")
        return {"imported": False, "created": False}
    member_id, created = _member_for(session, row, store_id, seen)
    # Source 'import' and no points awarded: history earns nothing.
    session.execute(
        _PURCHASE_INSERT,
        {
            "store_id": store_id,
            "order_no": order_no,
            "member_id": member_id,
            "amount_fen": row.amount_fen,
            "items": row.items,
            "fingerprint": fingerprint,
            "paid_at": row.paid_at,
            "created_at": now,
        },
    )
    # Members known only from history (never signed in) joined at their first purchase.
    session.execute(_joined_update, {"member_id": member_id, "paid_at": row.paid_at})
    if row.external_id:
        seen.by_external_id[row.external_id] = member_id
    return {"imported": True, "created": created}


# INSERT ... ON CONFLICT DO NOTHING: two imports of one file running at once add each order once.
# Written as text so SQLAlchemy compiles it only once.
_PURCHASE_INSERT = text(
    "INSERT INTO purchases (store_id, order_no, member_id, source, amount_fen, refunded_fen,"
    " items, points_awarded, points_reversed, fingerprint, paid_at, created_at)"
    " VALUES (:store_id, :order_no, :member_id, 'import', :amount_fen, 0,"
    " :items, 0, 0, :fingerprint, :paid_at, :created_at)"
    " ON CONFLICT (store_id, order_no) DO NOTHING"
).bindparams(
    bindparam("paid_at", type_=UTCDateTime()), bindparam("created_at", type_=UTCDateTime())
)

_joined_update = (
    update(Member.__table__)
    .where(
        Member.__table__.c.id == bindparam("member_id"),
        Member.__table__.c.openid.is_(None),
        Member.__table__.c.joined_at > bindparam("paid_at"),
    )
    .values(joined_at=bindparam("paid_at"))
)


def _store_id(session: Session, code: str | None, seen: _Seen) -> int:
    if code is None:
        raise RowError("no store: add a store_code column or run with --store CODE")
    if code not in seen.stores:
        seen.stores[code] = session.execute(
            select(Store.id).where(Store.code == code)
        ).scalar_one_or_none()
    if seen.stores[code] is None:
        raise RowError(f"unknown store code {code!r}")
    return seen.stores[code]


def _ensure_store(session: Session, code: str, name: str) -> None:
    insert_ignore(session, Store, {"code": code, "name": name, "address": "", "is_active": True})
    session.commit()


def _member_for(session: Session, row: OrderRow, store_id: int, seen: _Seen) -> tuple[int, bool]:
    """The member this line belongs to: by customer id, else by phone, else a new member."""
    if row.external_id:
        member_id = (
            seen.by_external_id.get(row.external_id)
            or session.execute(
                select(Member.id).where(Member.external_id == row.external_id)
            ).scalar_one_or_none()
        )
        if member_id is not None:
            return member_id, False
    if row.phone:
        found = session.execute(
            select(Member.id, Member.external_id).where(Member.phone == row.phone)
        ).one_or_none()
        if found is not None:
            if row.external_id and found.external_id not in (None, row.external_id):
                raise RowError(f"phone {row.phone} belongs to another customer id")
            if row.external_id and found.external_id is None:
                # Link the file's customer id to the member who already has this phone.
                session.execute(
                    update(Member).where(Member.id == found.id).values(external_id=row.external_id)
                )
            return found.id, False
    return _create_member(session, row, store_id), True


def _create_member(session: Session, row: OrderRow, store_id: int) -> int:
    for _ in range(5):
        values = {
            "member_no": identifiers.new_member_no(),
            "external_id": row.external_id,
            "phone": row.phone,
            "referral_code": identifiers.new_referral_code(),
            "store_id": store_id,
            # A member known only from history joined with their first purchase.
            "joined_at": row.paid_at,
            "updated_at": clock.now(),
            "nickname": row.nickname,
            "avatar_url": "",
            "gender": 0,
            "tier_code": "",
            "points_balance": 0,
        }
        inserted = insert_ignore(session, Member, values)
        if inserted.rowcount == 1:
            return inserted.inserted[0]
        # A random member_no or referral_code collided: draw again.
    raise RowError("could not create the member; run the import again")


def _fingerprint(row: OrderRow) -> str:
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


def _derived_order_no(fmt: str, row: OrderRow, seen: _Seen) -> str:
    """The same line content gives the same order number on every run.

    Two identical lines in one file are two orders: the n-th copy gets its own number.
    """
    content = _fingerprint(row)
    seen.occurrences[content] = seen.occurrences.get(content, 0) + 1
    digest = hashlib.sha256(f"{fmt}|{content}|{seen.occurrences[content]}".encode()).hexdigest()
    return f"imp-{digest[:40]}"
