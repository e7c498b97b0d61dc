"""Points at the till (issue 16): a purchase keeps what its coupons and redeemed points took off
and the redeemed points its refunds gave back; a refund what it gave back.

Revision ID: i16_till_points
Revises: i15_coupons_stock_shards
Create Date: 2026-12-22 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'i16_till_points'
down_revision = 'i15_coupons_stock_shards'
branch_labels = None
depends_on = None

_PURCHASE_COLUMNS = ('coupon_discount_fen', 'points_redeemed', 'discount_fen', 'points_returned')


def upgrade():
    # Constant defaults: PostgreSQL adds these without rewriting the table.
    for name in _PURCHASE_COLUMNS:
        op.add_column(
            'purchases', sa.Column(name, sa.BigInteger(), server_default='0', nullable=False)
        )
    op.add_column(
        'refunds',
        sa.Column('points_returned', sa.BigInteger(), server_default='0', nullable=False),
    )


def downgrade():
    op.drop_column('refunds', 'points_returned')
    for name in reversed(_PURCHASE_COLUMNS):
        op.drop_column('purchases', name)
