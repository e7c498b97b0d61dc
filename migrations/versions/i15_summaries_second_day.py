"""member_purchase_summaries gain orders (the whole history's) and second_day (the second business
day with a purchase), so the nightly segments report and the repurchase figures read the
summaries instead of every purchase. The summaries are rebuilt by the next refresh (deleting
segment_state makes it rebuild them from the purchases).

Revision ID: i15_summaries_second_day
Revises: i18_aimed_by_purchases
Create Date: 2026-12-05 14:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'i15_summaries_second_day'
down_revision = 'i18_aimed_by_purchases'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        'member_purchase_summaries',
        sa.Column('orders', sa.BigInteger(), server_default='0', nullable=False),
    )
    op.add_column('member_purchase_summaries', sa.Column('second_day', sa.Integer(), nullable=True))
    op.execute('DELETE FROM segment_state')


def downgrade():
    op.drop_column('member_purchase_summaries', 'second_day')
    op.drop_column('member_purchase_summaries', 'orders')
