"""The POS (issue 17): pos_keys (a store's HMAC keys, secrets encrypted, each with its till
identity), purchase_lines (an order's lines) and refund_lines (refunds by line).

Revision ID: i17_pos
Revises: i15_segments_report_stored
Create Date: 2026-12-02 16:30:00

"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = 'i17_pos'
down_revision = 'i15_segments_report_stored'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'pos_keys',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('key_id', sa.String(length=40), nullable=False),
        sa.Column('store_id', sa.BigInteger(), nullable=False),
        sa.Column('staff_id', sa.BigInteger(), nullable=False),
        sa.Column('secret_encrypted', sa.Text(), nullable=False),
        sa.Column('created_by', sa.BigInteger(), nullable=False),
        sa.Column('revoked_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', app.models.base.UTCDateTime(timezone=True),
                  server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_pos_keys_store_id_stores')),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'],
                                name=op.f('fk_pos_keys_staff_id_staff')),
        sa.ForeignKeyConstraint(['created_by'], ['staff.id'],
                                name=op.f('fk_pos_keys_created_by_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pos_keys')),
        sa.UniqueConstraint('key_id', name=op.f('uq_pos_keys_key_id')),
        sa.UniqueConstraint('staff_id', name=op.f('uq_pos_keys_staff_id')),
    )
    op.create_index(op.f('ix_pos_keys_store_id'), 'pos_keys', ['store_id'])
    op.create_table(
        'purchase_lines',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('purchase_id', sa.BigInteger(), nullable=False),
        sa.Column('line_no', sa.Integer(), nullable=False),
        sa.Column('sku', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('category', sa.String(length=64), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('unit_price_fen', sa.BigInteger(), nullable=False),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.Column('refunded_fen', sa.BigInteger(), server_default='0', nullable=False),
        sa.CheckConstraint('amount_fen >= 0', name=op.f('ck_purchase_lines_amount_not_negative')),
        sa.CheckConstraint('refunded_fen >= 0 and refunded_fen <= amount_fen',
                           name=op.f('ck_purchase_lines_line_refund_bounded')),
        sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'],
                                name=op.f('fk_purchase_lines_purchase_id_purchases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_lines')),
        sa.UniqueConstraint('purchase_id', 'line_no',
                            name=op.f('uq_purchase_lines_purchase_id_line_no')),
    )
    op.create_table(
        'refund_lines',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('refund_id', sa.BigInteger(), nullable=False),
        sa.Column('purchase_line_id', sa.BigInteger(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('amount_fen > 0', name=op.f('ck_refund_lines_amount_positive')),
        sa.ForeignKeyConstraint(['refund_id'], ['refunds.id'],
                                name=op.f('fk_refund_lines_refund_id_refunds')),
        sa.ForeignKeyConstraint(['purchase_line_id'], ['purchase_lines.id'],
                                name=op.f('fk_refund_lines_purchase_line_id_purchase_lines')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_refund_lines')),
    )
    op.create_index(op.f('ix_refund_lines_refund_id'), 'refund_lines', ['refund_id'])
    op.create_index(op.f('ix_refund_lines_purchase_line_id'), 'refund_lines',
                    ['purchase_line_id'])


def downgrade():
    op.drop_table('refund_lines')
    op.drop_table('purchase_lines')
    op.drop_table('pos_keys')
