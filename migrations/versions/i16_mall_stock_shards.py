"""A mall item's stock over 16 counter rows (mall_stock_shards), as coupon templates' are: a
flash exchange locks one shard to its commit instead of queueing on the item's row (2,000
exchanges of one item at once saw a 3 s lock timeout on the item's row under CI load).

mall_items.exchanged goes: what was exchanged is the sum of the shards' exchanged, and
stock_total stays as the sum of their stock. Existing items get their stock and exchanged split
evenly (shard k gets n // 16, plus one while k < n % 16: exchanged <= stock holds shard by shard).

Revision ID: i16_mall_stock_shards
Revises: i17_member_closure
Create Date: 2026-12-02 16:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'i16_mall_stock_shards'
down_revision = 'i17_member_closure'
branch_labels = None
depends_on = None

SHARDS = 16  # app.models.stock_shards.STOCK_SHARDS


def upgrade():
    op.create_table(
        'mall_stock_shards',
        sa.Column('item_id', sa.BigInteger(), nullable=False),
        sa.Column('shard', sa.SmallInteger(), nullable=False),
        sa.Column('stock', sa.Integer(), nullable=False),
        sa.Column('exchanged', sa.Integer(), nullable=False),
        sa.CheckConstraint(
            'exchanged >= 0 and exchanged <= stock',
            name=op.f('ck_mall_stock_shards_exchanged_within_stock'),
        ),
        sa.ForeignKeyConstraint(
            ['item_id'], ['mall_items.id'], name=op.f('fk_mall_stock_shards_item_id_mall_items')
        ),
        sa.PrimaryKeyConstraint('item_id', 'shard', name=op.f('pk_mall_stock_shards')),
    )
    op.execute(
        f"""
        INSERT INTO mall_stock_shards (item_id, shard, stock, exchanged)
        SELECT i.id, k,
               i.stock_total / {SHARDS} + CASE WHEN k < i.stock_total % {SHARDS} THEN 1 ELSE 0 END,
               i.exchanged / {SHARDS} + CASE WHEN k < i.exchanged % {SHARDS} THEN 1 ELSE 0 END
        FROM mall_items i CROSS JOIN generate_series(0, {SHARDS - 1}) AS k
        """
    )
    with op.batch_alter_table('mall_items', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_mall_items_exchanged_in_stock'), type_='check')
        batch_op.drop_column('exchanged')


def downgrade():
    with op.batch_alter_table('mall_items', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('exchanged', sa.Integer(), server_default='0', nullable=False)
        )
    op.execute(
        """
        UPDATE mall_items i SET exchanged = s.exchanged
        FROM (SELECT item_id, sum(exchanged) AS exchanged FROM mall_stock_shards
              GROUP BY item_id) s
        WHERE s.item_id = i.id
        """
    )
    with op.batch_alter_table('mall_items', schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_mall_items_exchanged_in_stock'), 'exchanged >= 0 and exchanged <= stock_total'
        )
    op.drop_table('mall_stock_shards')
