"""The points mall (积分商城): mall_items (coupons of a template or goods, with stock, a lifetime
limit per member, tiers and a window), mall_holdings (units a member has exchanged of an item,
the limit's counter) and mall_exchanges (every exchange, its pickup code or coupons).

Revision ID: i16_mall
Revises: i15_ledger_lots_by_expiry
Create Date: 2026-12-02 11:00:00

"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = 'i16_mall'
down_revision = 'i15_ledger_lots_by_expiry'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'mall_items',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('cost_points', sa.Integer(), nullable=False),
        sa.Column('coupon_template_id', sa.BigInteger(), nullable=True),
        sa.Column('stock_total', sa.Integer(), nullable=False),
        sa.Column('exchanged', sa.Integer(), server_default='0', nullable=False),
        sa.Column('limit_per_member', sa.Integer(), nullable=False),
        sa.Column('tiers', sa.JSON(), nullable=True),
        sa.Column('starts_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ends_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('image_url', sa.String(length=512), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.BigInteger(), nullable=True),
        sa.Column('updated_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_at', app.models.base.UTCDateTime(timezone=True),
                  server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("kind in ('coupon','goods')", name=op.f('ck_mall_items_kind_known')),
        sa.CheckConstraint('cost_points > 0', name=op.f('ck_mall_items_cost_positive')),
        sa.CheckConstraint('limit_per_member >= 1', name=op.f('ck_mall_items_limit_positive')),
        sa.CheckConstraint('exchanged >= 0 and exchanged <= stock_total',
                           name=op.f('ck_mall_items_exchanged_in_stock')),
        sa.CheckConstraint("kind <> 'coupon' or coupon_template_id is not null",
                           name=op.f('ck_mall_items_coupon_has_template')),
        sa.ForeignKeyConstraint(['coupon_template_id'], ['coupon_templates.id'],
                                name=op.f('fk_mall_items_coupon_template_id_coupon_templates')),
        sa.ForeignKeyConstraint(['created_by'], ['staff.id'],
                                name=op.f('fk_mall_items_created_by_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mall_items')),
    )
    op.create_table(
        'mall_holdings',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('item_id', sa.BigInteger(), nullable=False),
        sa.Column('member_id', sa.BigInteger(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.CheckConstraint('count >= 0', name=op.f('ck_mall_holdings_count_not_negative')),
        sa.ForeignKeyConstraint(['item_id'], ['mall_items.id'],
                                name=op.f('fk_mall_holdings_item_id_mall_items')),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'],
                                name=op.f('fk_mall_holdings_member_id_members')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mall_holdings')),
        sa.UniqueConstraint('item_id', 'member_id',
                            name=op.f('uq_mall_holdings_item_id_member_id')),
    )
    op.create_index(op.f('ix_mall_holdings_member_id'), 'mall_holdings', ['member_id'])
    op.create_table(
        'mall_exchanges',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('item_id', sa.BigInteger(), nullable=False),
        sa.Column('member_id', sa.BigInteger(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('points_spent', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('pickup_code', sa.String(length=16), nullable=True),
        sa.Column('coupon_ids', sa.JSON(), nullable=False),
        sa.Column('collected_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('collected_store_id', sa.BigInteger(), nullable=True),
        sa.Column('collected_by', sa.BigInteger(), nullable=True),
        sa.Column('cancelled_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', app.models.base.UTCDateTime(timezone=True),
                  server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("status in ('issued','awaiting_pickup','collected','cancelled')",
                           name=op.f('ck_mall_exchanges_status_known')),
        sa.CheckConstraint('quantity >= 1', name=op.f('ck_mall_exchanges_quantity_positive')),
        sa.ForeignKeyConstraint(['item_id'], ['mall_items.id'],
                                name=op.f('fk_mall_exchanges_item_id_mall_items')),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'],
                                name=op.f('fk_mall_exchanges_member_id_members')),
        sa.ForeignKeyConstraint(['collected_store_id'], ['stores.id'],
                                name=op.f('fk_mall_exchanges_collected_store_id_stores')),
        sa.ForeignKeyConstraint(['collected_by'], ['staff.id'],
                                name=op.f('fk_mall_exchanges_collected_by_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mall_exchanges')),
        sa.UniqueConstraint('pickup_code', name=op.f('uq_mall_exchanges_pickup_code')),
    )
    op.create_index(op.f('ix_mall_exchanges_item_id'), 'mall_exchanges', ['item_id'])
    op.create_index('ix_mall_exchanges_member_id', 'mall_exchanges', ['member_id', 'id'])
    op.create_index(
        'ix_mall_exchanges_awaiting', 'mall_exchanges', ['member_id'],
        postgresql_where=sa.text("status = 'awaiting_pickup'"),
    )


def downgrade():
    op.drop_table('mall_exchanges')
    op.drop_table('mall_holdings')
    op.drop_table('mall_items')
