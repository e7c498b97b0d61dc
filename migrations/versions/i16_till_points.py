"""Points at the till (issue 16): a purchase keeps what its coupons and redeemed points took off
and the redeemed points its refunds gave back; a refund what it gave back.

Coupons say what they mean: valid_until is the last instant a coupon can be used. Relative
coupons were stored with the exclusive midnight after their last business day; they move back
one microsecond to 23:59:59.999999 of that day (only those exactly at a business-day midnight).

Revision ID: i16_till_points
Revises: i16_mall
Create Date: 2026-12-22 10:00:00

"""
import os

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'i16_till_points'
down_revision = 'i16_mall'
branch_labels = None
depends_on = None

# The business time zone as the app reads it (app.config: BUSINESS_TZ).
_TZ = os.environ.get('BUSINESS_TZ') or 'Asia/Shanghai'
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
    op.execute(
        sa.text(
            """
            UPDATE coupons c SET valid_until = c.valid_until - interval '1 microsecond'
            FROM coupon_templates t
            WHERE t.id = c.template_id AND t.validity_mode = 'relative'
              AND CAST(c.valid_until AT TIME ZONE :tz AS time) = time '00:00'
            """
        ).bindparams(tz=_TZ)
    )


def downgrade():
    op.execute(
        sa.text(
            """
            UPDATE coupons c SET valid_until = c.valid_until + interval '1 microsecond'
            FROM coupon_templates t
            WHERE t.id = c.template_id AND t.validity_mode = 'relative'
              AND CAST(c.valid_until AT TIME ZONE :tz AS time) = time '23:59:59.999999'
            """
        ).bindparams(tz=_TZ)
    )
    op.drop_column('refunds', 'points_returned')
    for name in reversed(_PURCHASE_COLUMNS):
        op.drop_column('purchases', name)
