"""Promotions and tier perks (issue 19): promotions (multiplier days, stores, tiers,
categories), purchase_promotions (what a purchase got from one), and members.tier_below_since
(the business day a member's earnings fell below their tier, for its grace days).

Revision ID: i19_promotions_tier_perks
Revises: i17_staff_signups
Create Date: 2026-12-02 17:00:00

"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = 'i19_promotions_tier_perks'
down_revision = 'i17_staff_signups'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'promotions',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('multiplier', sa.Numeric(precision=4, scale=2), nullable=False),
        sa.Column('weekdays', sa.JSON(), nullable=True),
        sa.Column('month_days', sa.JSON(), nullable=True),
        sa.Column('starts_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ends_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('store_ids', sa.JSON(), nullable=True),
        sa.Column('tiers', sa.JSON(), nullable=True),
        sa.Column('categories', sa.JSON(), nullable=True),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.BigInteger(), nullable=True),
        sa.Column('created_at', app.models.base.UTCDateTime(timezone=True),
                  server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('multiplier > 1', name=op.f('ck_promotions_multiplier_above_one')),
        sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_promotions_window_not_empty')),
        sa.ForeignKeyConstraint(['created_by'], ['staff.id'],
                                name=op.f('fk_promotions_created_by_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_promotions')),
    )
    op.create_table(
        'purchase_promotions',
        sa.Column('purchase_id', sa.BigInteger(), nullable=False),
        sa.Column('promotion_id', sa.BigInteger(), nullable=False),
        sa.Column('points', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'],
                                name=op.f('fk_purchase_promotions_purchase_id_purchases')),
        sa.ForeignKeyConstraint(['promotion_id'], ['promotions.id'],
                                name=op.f('fk_purchase_promotions_promotion_id_promotions')),
        sa.PrimaryKeyConstraint('purchase_id', 'promotion_id', name=op.f('pk_purchase_promotions')),
    )
    op.create_index(op.f('ix_purchase_promotions_promotion_id'), 'purchase_promotions',
                    ['promotion_id'], unique=False)
    op.add_column('members', sa.Column('tier_below_since', sa.Date(), nullable=True))


def downgrade():
    op.drop_column('members', 'tier_below_since')
    op.drop_index(op.f('ix_purchase_promotions_promotion_id'), table_name='purchase_promotions')
    op.drop_table('purchase_promotions')
    op.drop_table('promotions')
