"""The till finds a member by phone (a shopper whose phone is dead): scans.via ('code' or
'phone'); a scan by phone has no member code.

Revision ID: i17_till_phone_lookup
Revises: i17_personal_data_encrypted
Create Date: 2026-12-05 14:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'i17_till_phone_lookup'
down_revision = 'i17_personal_data_encrypted'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        'scans', sa.Column('via', sa.String(length=8), server_default='code', nullable=False)
    )
    op.alter_column('scans', 'member_code', existing_type=sa.String(length=18), nullable=True)
    op.alter_column('scans', 'code_step', existing_type=sa.BigInteger(), nullable=True)
    op.create_check_constraint(
        op.f('ck_scans_via_known'),
        'scans',
        "(via = 'code' AND member_code IS NOT NULL AND code_step IS NOT NULL)"
        " OR (via = 'phone' AND member_code IS NULL AND code_step IS NULL)",
    )


def downgrade():
    # Scans by phone are kept (purchases name them) with a code no member code can be: their id.
    op.execute("UPDATE scans SET member_code = left(id, 18), code_step = -1 WHERE via = 'phone'")
    op.drop_constraint(op.f('ck_scans_via_known'), 'scans', type_='check')
    op.alter_column('scans', 'code_step', existing_type=sa.BigInteger(), nullable=False)
    op.alter_column('scans', 'member_code', existing_type=sa.String(length=18), nullable=False)
    op.drop_column('scans', 'via')
