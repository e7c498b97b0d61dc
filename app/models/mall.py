"""The points mall (积分商城): items members exchange points for, and every exchange."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import CreatedAt, UTCDateTime, pk, utcnow
from app.models.stock_shards import shard_the_stock

ITEM_KINDS = ("coupon", "goods")
EXCHANGE_STATUSES = ("issued", "awaiting_pickup", "collected", "cancelled")


class MallItem(CreatedAt, db.Model):
    """Something on offer for points: coupons of a template, or goods collected at a store."""

    __tablename__ = "mall_items"
    __table_args__ = (
        CheckConstraint("kind in ('coupon','goods')", name="kind_known"),
        CheckConstraint("cost_points > 0", name="cost_positive"),
        CheckConstraint("limit_per_member >= 1", name="limit_positive"),
        CheckConstraint(
            "kind <> 'coupon' or coupon_template_id is not null", name="coupon_has_template"
        ),
    )

    id: Mapped[pk]
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(8))
    cost_points: Mapped[int] = mapped_column(Integer)
    coupon_template_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("coupon_templates.id")
    )
    # The sum of the shards' stock (MallStockShard); units exchanged and not cancelled are the
    # sum of theirs (`exchanged`, loaded with the item).
    stock_total: Mapped[int] = mapped_column(Integer)
    limit_per_member: Mapped[int] = mapped_column(Integer, default=1)  # lifetime, in units
    tiers: Mapped[list | None] = mapped_column(JSON)  # tier codes; None: every tier
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    image_url: Mapped[str] = mapped_column(String(512), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def stock_left(self) -> int:
        return self.stock_total - self.exchanged


class MallStockShard(db.Model):
    """One counter of an item's stock: `exchanged` of its `stock` were exchanged (not cancelled);
    moved only by services.stock_shards."""

    __tablename__ = "mall_stock_shards"
    __table_args__ = (
        # The stock guard of last resort: never more exchanged than there are.
        CheckConstraint("exchanged >= 0 and exchanged <= stock", name="exchanged_within_stock"),
    )

    item_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("mall_items.id"), primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    stock: Mapped[int] = mapped_column(Integer)
    exchanged: Mapped[int] = mapped_column(Integer, default=0)


# A flash exchange locks one shard of the item's stock, not the item's row.
shard_the_stock(MallItem, MallStockShard, "item_id", "exchanged")


class MallHolding(db.Model):
    """Units of an item a member has exchanged (not cancelled), capped by a conditional upsert."""

    __tablename__ = "mall_holdings"
    __table_args__ = (
        UniqueConstraint("item_id", "member_id"),
        CheckConstraint("count >= 0", name="count_not_negative"),
    )

    id: Mapped[pk]
    item_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("mall_items.id"))
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"), index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class MallExchange(CreatedAt, db.Model):
    """One exchange: points spent on `quantity` units of an item, and what it gave."""

    __tablename__ = "mall_exchanges"
    __table_args__ = (
        CheckConstraint(
            "status in ('issued','awaiting_pickup','collected','cancelled')", name="status_known"
        ),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        Index("ix_mall_exchanges_member_id", "member_id", "id"),
        # The till's "awaiting pickup" list after a scan.
        Index(
            "ix_mall_exchanges_awaiting",
            "member_id",
            postgresql_where=text("status = 'awaiting_pickup'"),
        ),
    )

    id: Mapped[pk]
    item_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("mall_items.id"), index=True)
    member_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    points_spent: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    # Goods: what the member shows at a store (unique, 60 random bits); coupons: None.
    pickup_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    coupon_ids: Mapped[list] = mapped_column(JSON, default=list)
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    collected_store_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("stores.id"))
    collected_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
