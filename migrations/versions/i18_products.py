"""products: what a sku is (name, category, brand), filled from order lines (the POS, the till,
the import) and from a product file.

Revision ID: i18_products
Revises: i17_pos
Create Date: 2026-12-02 17:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.base import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'i18_products'
down_revision = 'i17_pos'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'products',
        sa.Column('sku', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('category', sa.String(length=64), nullable=False),
        sa.Column('brand', sa.String(length=64), nullable=False),
        sa.Column('last_seen_at', UTCDateTime(), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('sku', name=op.f('pk_products')),
    )
    op.create_index(op.f('ix_products_category'), 'products', ['category'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_products_category'), table_name='products')
    op.drop_table('products')
