"""A coupon template's stock over 16 counter rows (coupon_stock_shards): a flash sale's claims
each lock one shard instead of queueing on the template's row (one row updated per transaction
is 540-820 tps on this machine's PostgreSQL, whatever the app does).

coupon_templates.issued goes: what was issued is the sum of the shards' issued, and stock_total
stays as the sum of their stock. Existing templates get their stock and issued split evenly
(shard k gets n // 16, plus one while k < n % 16: issued <= stock holds shard by shard).

Revision ID: i15_coupons_stock_shards
Revises: i14_ledger_bigint
Create Date: 2026-12-21 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'i15_coupons_stock_shards'
down_revision = 'i14_ledger_bigint'
branch_labels = None
depends_on = None

SHARDS = 16  # app.models.coupons.STOCK_SHARDS


def upgrade():
    op.create_table(
        'coupon_stock_shards',
        sa.Column('template_id', sa.BigInteger(), nullable=False),
        sa.Column('shard', sa.SmallInteger(), nullable=False),
        sa.Column('stock', sa.Integer(), nullable=False),
        sa.Column('issued', sa.Integer(), nullable=False),
        sa.CheckConstraint(
            'issued >= 0 and issued <= stock',
            name=op.f('ck_coupon_stock_shards_issued_within_stock'),
        ),
        sa.ForeignKeyConstraint(
            ['template_id'],
            ['coupon_templates.id'],
            name=op.f('fk_coupon_stock_shards_template_id_coupon_templates'),
        ),
        sa.PrimaryKeyConstraint('template_id', 'shard', name=op.f('pk_coupon_stock_shards')),
    )
    op.execute(
        f"""
        INSERT INTO coupon_stock_shards (template_id, shard, stock, issued)
        SELECT t.id, k,
               t.stock_total / {SHARDS} + CASE WHEN k < t.stock_total % {SHARDS} THEN 1 ELSE 0 END,
               t.issued / {SHARDS} + CASE WHEN k < t.issued % {SHARDS} THEN 1 ELSE 0 END
        FROM coupon_templates t CROSS JOIN generate_series(0, {SHARDS - 1}) AS k
        """
    )
    with op.batch_alter_table('coupon_templates', schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f('ck_coupon_templates_issued_within_stock'), type_='check'
        )
        batch_op.drop_column('issued')


def downgrade():
    with op.batch_alter_table('coupon_templates', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('issued', sa.Integer(), server_default='0', nullable=False)
        )
    op.execute(
        """
        UPDATE coupon_templates t SET issued = s.issued
        FROM (SELECT template_id, sum(issued) AS issued FROM coupon_stock_shards
              GROUP BY template_id) s
        WHERE s.template_id = t.id
        """
    )
    with op.batch_alter_table('coupon_templates', schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_coupon_templates_issued_within_stock'), 'issued >= 0 and issued <= stock_total'
        )
    op.drop_table('coupon_stock_shards')
