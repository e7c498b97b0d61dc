"""Paid membership (issue 19): membership_plans, membership_orders (WeChat Pay), memberships.

Revision ID: i19_membership
Revises: i19_promotions_tier_perks
Create Date: 2026-12-02 17:00:00

"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = 'i19_membership'
down_revision = 'i19_promotions_tier_perks'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'membership_plans',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('price_fen', sa.Integer(), nullable=False),
        sa.Column('months', sa.Integer(), nullable=False),
        sa.Column('multiplier_percent', sa.Integer(), nullable=False),
        sa.Column('monthly_coupons', sa.JSON(), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.BigInteger(), nullable=True),
        sa.Column('updated_at', app.models.base.UTCDateTime(), nullable=False),
        sa.Column('created_at', app.models.base.UTCDateTime(), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint('price_fen > 0', name=op.f('ck_membership_plans_price_positive')),
        sa.CheckConstraint('months between 1 and 120', name=op.f('ck_membership_plans_months_range')),
        sa.CheckConstraint('multiplier_percent >= 100',
                           name=op.f('ck_membership_plans_multiplier_at_least_one')),
        sa.ForeignKeyConstraint(['created_by'], ['staff.id'],
                                name=op.f('fk_membership_plans_created_by_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_plans')),
    )
    op.create_table(
        'membership_orders',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('order_no', sa.String(length=32), nullable=False),
        sa.Column('member_id', sa.BigInteger(), nullable=False),
        sa.Column('plan_id', sa.BigInteger(), nullable=False),
        sa.Column('amount_fen', sa.Integer(), nullable=False),
        sa.Column('months', sa.Integer(), nullable=False),
        sa.Column('multiplier_percent', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('prepay_id', sa.String(length=64), nullable=True),
        sa.Column('expires_at', app.models.base.UTCDateTime(), nullable=False),
        sa.Column('transaction_id', sa.String(length=64), nullable=True),
        sa.Column('paid_at', app.models.base.UTCDateTime(), nullable=True),
        sa.Column('period_start', sa.Date(), nullable=True),
        sa.Column('period_end', sa.Date(), nullable=True),
        sa.Column('refund_no', sa.String(length=40), nullable=True),
        sa.Column('refund_fen', sa.Integer(), nullable=True),
        sa.Column('refund_months', sa.Integer(), nullable=True),
        sa.Column('refund_reason', sa.String(length=200), nullable=True),
        sa.Column('refund_status', sa.String(length=16), nullable=True),
        sa.Column('refunded_at', app.models.base.UTCDateTime(), nullable=True),
        sa.Column('refunded_by', sa.BigInteger(), nullable=True),
        sa.Column('created_at', app.models.base.UTCDateTime(), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint("status in ('pending','paid','closed','refunding','refunded')",
                           name=op.f('ck_membership_orders_status_known')),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'],
                                name=op.f('fk_membership_orders_member_id_members')),
        sa.ForeignKeyConstraint(['plan_id'], ['membership_plans.id'],
                                name=op.f('fk_membership_orders_plan_id_membership_plans')),
        sa.ForeignKeyConstraint(['refunded_by'], ['staff.id'],
                                name=op.f('fk_membership_orders_refunded_by_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_orders')),
        sa.UniqueConstraint('order_no', name=op.f('uq_membership_orders_order_no')),
        sa.UniqueConstraint('refund_no', name=op.f('uq_membership_orders_refund_no')),
        sa.UniqueConstraint('transaction_id', name=op.f('uq_membership_orders_transaction_id')),
    )
    op.create_index(op.f('ix_membership_orders_member_id'), 'membership_orders', ['member_id'])
    op.create_index('ix_membership_orders_pending', 'membership_orders', ['created_at'],
                    postgresql_where=sa.text("status in ('pending','refunding')"))
    op.create_table(
        'memberships',
        sa.Column('member_id', sa.BigInteger(), nullable=False),
        sa.Column('plan_id', sa.BigInteger(), nullable=False),
        sa.Column('multiplier_percent', sa.Integer(), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('updated_at', app.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'],
                                name=op.f('fk_memberships_member_id_members')),
        sa.ForeignKeyConstraint(['plan_id'], ['membership_plans.id'],
                                name=op.f('fk_memberships_plan_id_membership_plans')),
        sa.PrimaryKeyConstraint('member_id', name=op.f('pk_memberships')),
    )
    op.create_index(op.f('ix_memberships_ends_on'), 'memberships', ['ends_on'])


def downgrade():
    op.drop_index(op.f('ix_memberships_ends_on'), table_name='memberships')
    op.drop_table('memberships')
    op.drop_index('ix_membership_orders_pending', table_name='membership_orders')
    op.drop_index(op.f('ix_membership_orders_member_id'), table_name='membership_orders')
    op.drop_table('membership_orders')
    op.drop_table('membership_plans')
