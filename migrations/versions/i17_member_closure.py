"""Closing an account (注销): members.closed_at, and coupons that a closure voids.

Revision ID: i17_member_closure
Revises: i16_till_points
Create Date: 2026-12-02 11:00:00

"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = 'i17_member_closure'
down_revision = 'i16_till_points'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('members', sa.Column("closed_at", app.models.base.UTCDateTime(timezone=True), nullable=True))
    op.drop_constraint(op.f('ck_coupons_status_known'), 'coupons', type_='check')
    op.create_check_constraint(
        op.f('ck_coupons_status_known'), 'coupons', "status in ('unused','used','voided')"
    )


def downgrade():
    # A voided coupon cannot come back (its member's account is closed): it stays used up.
    op.execute("UPDATE coupons SET status = 'used' WHERE status = 'voided'")
    op.drop_constraint(op.f('ck_coupons_status_known'), 'coupons', type_='check')
    op.create_check_constraint(op.f('ck_coupons_status_known'), 'coupons', "status in ('unused','used')")
    op.drop_column('members', 'closed_at')
