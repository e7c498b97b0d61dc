"""Stores and staff grow the membership: staff codes (backfilled), who signed a member up,
the staff member behind an official-account follower, and the permanent QR codes made once.

Revision ID: i17_staff_signups
Revises: i18_products
Create Date: 2026-12-02 16:30:00

"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = 'i17_staff_signups'
down_revision = 'i18_products'
branch_labels = None
depends_on = None

# Existing staff get a code derived from their id, so the backfill can never collide: the id times
# an odd number, modulo 32^6 (a bijection below 2^30), written in Crockford base32. New staff get
# random codes (app.services.identifiers.new_staff_code); the unique constraint arbitrates.
BACKFILL = """
UPDATE staff SET staff_code = (
    SELECT string_agg(
        substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ',
               ((staff.id * 747796405) % 1073741824 >> (5 * (5 - i)))::int % 32 + 1, 1),
        '' ORDER BY i)
    FROM generate_series(0, 5) AS i
)
"""


def upgrade():
    op.add_column('staff', sa.Column('staff_code', sa.String(length=8), nullable=True))
    op.execute(BACKFILL)
    op.alter_column('staff', 'staff_code', nullable=False)
    op.create_unique_constraint(op.f('uq_staff_staff_code'), 'staff', ['staff_code'])
    op.add_column('members', sa.Column('signed_up_by_staff_id', sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f('fk_members_signed_up_by_staff_id_staff'), 'members', 'staff',
        ['signed_up_by_staff_id'], ['id'],
    )
    op.add_column('oa_followers', sa.Column('staff_id', sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f('fk_oa_followers_staff_id_staff'), 'oa_followers', 'staff', ['staff_id'], ['id']
    )
    op.create_table(
        'oa_qr_codes',
        sa.Column('scene', sa.String(length=64), nullable=False),
        sa.Column('ticket', sa.String(length=255), nullable=False),
        sa.Column('url', sa.String(length=255), nullable=False),
        sa.Column('created_at', app.models.base.UTCDateTime(timezone=True),
                  server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('scene', name=op.f('pk_oa_qr_codes')),
    )


def downgrade():
    op.drop_table('oa_qr_codes')
    op.drop_constraint(op.f('fk_oa_followers_staff_id_staff'), 'oa_followers', type_='foreignkey')
    op.drop_column('oa_followers', 'staff_id')
    op.drop_constraint(
        op.f('fk_members_signed_up_by_staff_id_staff'), 'members', type_='foreignkey'
    )
    op.drop_column('members', 'signed_up_by_staff_id')
    op.drop_constraint(op.f('uq_staff_staff_code'), 'staff', type_='unique')
    op.drop_column('staff', 'staff_code')
