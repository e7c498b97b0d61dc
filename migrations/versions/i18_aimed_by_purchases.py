"""Aimed by what people buy (issue 18): purchase lines by category and by sku (the audience
filter's bought_categories, bought_skus and likely_buyers_of read them), and the category a
campaign promotes (its report measures who bought it).

Revision ID: i18_aimed_by_purchases
Revises: i19_membership
Create Date: 2026-12-05 14:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'i18_aimed_by_purchases'
down_revision = 'i19_membership'
branch_labels = None
depends_on = None


def upgrade():
    # (category, purchase_id) and (sku, purchase_id): the lines of a category or sku, with the
    # purchase to join, read from the index alone.
    op.create_index('ix_purchase_lines_category_purchase', 'purchase_lines',
                    ['category', 'purchase_id'], unique=False)
    op.create_index('ix_purchase_lines_sku_purchase', 'purchase_lines',
                    ['sku', 'purchase_id'], unique=False)
    op.add_column('campaigns', sa.Column('promoted_category', sa.String(length=64), nullable=True))


def downgrade():
    op.drop_column('campaigns', 'promoted_category')
    op.drop_index('ix_purchase_lines_sku_purchase', table_name='purchase_lines')
    op.drop_index('ix_purchase_lines_category_purchase', table_name='purchase_lines')
