"""segment_reports: the segments report as the nightly refresh computed it for its default
period, so GET /staff/v1/admin/segments reads one row instead of every member and purchase
(16 s at 1M members and 10M orders).

Revision ID: i15_segments_report_stored
Revises: i16_mall_stock_shards
Create Date: 2026-12-02 16:40:00

"""
from alembic import op
import sqlalchemy as sa

from app.models.base import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'i15_segments_report_stored'
down_revision = 'i16_mall_stock_shards'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'segment_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period_from', sa.Date(), nullable=False),
        sa.Column('period_to', sa.Date(), nullable=False),
        sa.Column('computed_at', UTCDateTime(), nullable=False),
        sa.Column('figures', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_reports')),
    )


def downgrade():
    op.drop_table('segment_reports')
