"""Taking from and giving back to a sharded stock (models.stock_shards), and changing it.

A take of `quantity` locks one shard with that much room: the first one no other taker holds,
from a random start, else it waits for one (a shard that ran out meanwhile is passed over for
the next). It holds that one lock to its commit and takes no other, so takers never wait for
each other while a shard is free, and never deadlock. Only when no single shard has the room (a
multi-unit take near the end of the stock) does it lock every shard, in shard order, and take
across them; so do the stock changes and give-backs that need more than one shard. The shard's
CHECK (0 <= used <= stock) is the guard of last resort.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.models.stock_shards import STOCK_SHARDS

# One shard with `quantity` of room, the first free one from :start; moved by :quantity.
_ONE = """
    WITH pick AS MATERIALIZED (
        SELECT COALESCE(
            (SELECT shard FROM {shards} WHERE {owner} = :owner_id AND {room} >= :quantity
             ORDER BY (shard + :start) % {n} LIMIT 1 FOR UPDATE SKIP LOCKED),
            (SELECT shard FROM {shards} WHERE {owner} = :owner_id AND {room} >= :quantity
             ORDER BY (shard + :start) % {n} LIMIT 1 FOR UPDATE)
        ) AS shard
    )
    UPDATE {shards} s SET {used} = s.{used} {sign} :quantity
    FROM pick WHERE s.{owner} = :owner_id AND s.shard = pick.shard
    RETURNING s.shard
"""
# Every shard locked in shard order, `quantity` moved across them in that order when their
# room adds up to it (nothing moved otherwise).
_ACROSS = """
    WITH locked AS MATERIALIZED (
        SELECT shard, {room} AS room FROM {shards} WHERE {owner} = :owner_id
        ORDER BY shard FOR UPDATE
    ), plan AS (
        SELECT shard, room, sum(room) OVER (ORDER BY shard) - room AS before FROM locked
        WHERE (SELECT sum(room) FROM locked) >= :quantity
    )
    UPDATE {shards} s SET {used} = s.{used} {sign} LEAST(p.room, :quantity - p.before)
    FROM plan p
    WHERE s.{owner} = :owner_id AND s.shard = p.shard AND p.before < :quantity AND p.room > 0
    RETURNING s.shard
"""
# A change of stock locks the shards (in shard order) and moves the difference on them in one
# statement: a raise spread as the stock was, a cut taken from the shards' stock not used yet,
# in shard order. A cut below what was used changes nothing. Takers running meanwhile wait for
# their shard, then see its new stock.
_CHANGE = """
    WITH locked AS MATERIALIZED (
        SELECT shard, stock, {used} AS used FROM {shards} WHERE {owner} = :owner_id
        ORDER BY shard FOR UPDATE
    ), totals AS MATERIALIZED (
        SELECT sum(stock) AS stock, sum(used) AS used FROM locked
    ), plan AS (
        SELECT l.shard, l.stock - l.used AS free,
               sum(l.stock - l.used) OVER (ORDER BY l.shard) - (l.stock - l.used) AS before,
               CAST(:total AS integer) - t.stock AS delta
        FROM locked l, totals t WHERE CAST(:total AS integer) >= t.used
    ), moved AS (
        UPDATE {shards} s
        SET stock = s.stock + CASE
            WHEN p.delta >= 0 THEN p.delta / {n}
                + CASE WHEN s.shard < p.delta % {n} THEN 1 ELSE 0 END
            ELSE -LEAST(p.free, GREATEST(-p.delta - p.before, 0)) END
        FROM plan p
        WHERE s.{owner} = :owner_id AND s.shard = p.shard
        RETURNING s.stock
    ), owner AS (
        UPDATE {owners} SET stock_total = :total
        WHERE id = :owner_id AND EXISTS (SELECT FROM plan)
        RETURNING id
    )
    SELECT totals.used, (SELECT count(*) FROM owner) FROM totals
"""


@dataclass(frozen=True)
class ShardedStock:
    """The shards of one kind of owner: table `shards` (`owner`, shard, stock, `used`), the
    owners' table `owners` (with `stock_total`)."""

    shards: str
    owner: str
    used: str
    owners: str

    def take(self, session: Session, owner_id: int, quantity: int) -> bool:
        """Take `quantity` units (False, nothing taken: there are not that many left)."""
        return self._move(session, owner_id, quantity, take=True)

    def give_back(self, session: Session, owner_id: int, quantity: int) -> None:
        """Return `quantity` units taken before (a cancel)."""
        if not self._move(session, owner_id, quantity, take=False):
            raise AssertionError(f"{self.shards}: {quantity} units to give back were never taken")

    def _move(self, session: Session, owner_id: int, quantity: int, take: bool) -> bool:
        params = {
            "owner_id": owner_id,
            "quantity": quantity,
            "start": secrets.randbelow(STOCK_SHARDS),
        }
        if session.execute(_statement(self, _ONE, take), params).first() is not None:
            return True
        if quantity == 1:
            return False
        return session.execute(_statement(self, _ACROSS, take), params).first() is not None

    def change_stock(self, session: Session, owner_id: int, total: int) -> int | None:
        """Set the stock to `total`; None when done, else what was used (more than `total`:
        nothing changed)."""
        used, changed = session.execute(
            _statement(self, _CHANGE, True), {"owner_id": owner_id, "total": total}
        ).one()
        return None if changed else int(used or 0)


@functools.cache
def _statement(stock: ShardedStock, sql: str, take: bool):
    """One of the statements above for `stock`'s tables, built once."""
    return text(
        sql.format(
            shards=stock.shards,
            owner=stock.owner,
            used=stock.used,
            owners=stock.owners,
            room=f"stock - {stock.used}" if take else stock.used,
            sign="+" if take else "-",
            n=STOCK_SHARDS,
        )
    )
