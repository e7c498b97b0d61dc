"""One lot per member and expiry date; a reversal names the earning it reverses.

point_lots gets a unique (member_id, expires_on), which replaces the plain index on the same
columns: earnings that expire together add to one lot, so a spend over a year of daily check-ins
reads a lot a day, not one per earning. Existing lots are merged set-based, in one statement:
per member and expiry date the lot with the smallest id keeps the sums of earned and remaining,
the others are deleted. point_lots.entry_id (and its unique constraint and foreign key) goes: a
lot has many earnings now.

point_entries.reverses_entry_id (nullable, FK point_entries.id, a partial index on the rows that
have it): a refund's debit names the purchase's earning, and takes first what that earning has
unspent in its lot. Existing refunds are filled in from refunds.purchase_id (ref
`refund:<refund id>` reverses `purchase:<purchase id>`).

Downgrade: the lots stay merged (the points of each earning cannot be told apart again): each
lot gets back an entry_id naming the newest earning of its member and expiry date, which is
unique per lot; it refuses (NOT NULL fails) if a lot has no such earning (rows inserted by hand).

Revision ID: i15_ledger_lots_by_expiry
Revises: i15_coupons_stock_shards
Create Date: 2026-12-21 11:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'i15_ledger_lots_by_expiry'
down_revision = 'i15_coupons_stock_shards'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('point_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reverses_entry_id', sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_point_entries_reverses_entry_id_point_entries'),
            'point_entries',
            ['reverses_entry_id'],
            ['id'],
        )
        batch_op.create_index(
            'ix_point_entries_reverses_entry_id',
            ['reverses_entry_id'],
            unique=False,
            postgresql_where=sa.text('reverses_entry_id IS NOT NULL'),
        )
    op.execute(
        """
        UPDATE point_entries e SET reverses_entry_id = p.id
        FROM refunds r JOIN point_entries p ON p.ref = 'purchase:' || r.purchase_id
        WHERE e.ref = 'refund:' || r.id
        """
    )
    op.execute(
        """
        WITH groups AS (
            SELECT member_id, expires_on, MIN(id) AS keep, SUM(earned) AS earned,
                   SUM(remaining) AS remaining
            FROM point_lots GROUP BY member_id, expires_on HAVING COUNT(*) > 1
        ), kept AS (
            UPDATE point_lots l SET earned = g.earned, remaining = g.remaining
            FROM groups g WHERE l.id = g.keep
        )
        DELETE FROM point_lots l USING groups g
        WHERE l.member_id = g.member_id AND l.expires_on = g.expires_on AND l.id <> g.keep
        """
    )
    with op.batch_alter_table('point_lots', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_point_lots_entry_id'), type_='unique')
        batch_op.drop_constraint(
            batch_op.f('fk_point_lots_entry_id_point_entries'), type_='foreignkey'
        )
        batch_op.drop_column('entry_id')
        batch_op.drop_index('ix_point_lots_member_expires')
        batch_op.create_unique_constraint(
            batch_op.f('uq_point_lots_member_id_expires_on'), ['member_id', 'expires_on']
        )


def downgrade():
    with op.batch_alter_table('point_lots', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_point_lots_member_id_expires_on'), type_='unique')
        batch_op.create_index(
            'ix_point_lots_member_expires', ['member_id', 'expires_on'], unique=False
        )
        batch_op.add_column(sa.Column('entry_id', sa.BigInteger(), nullable=True))
    op.execute(
        """
        UPDATE point_lots l SET entry_id = (
            SELECT MAX(e.id) FROM point_entries e
            WHERE e.member_id = l.member_id AND e.expires_on = l.expires_on AND e.delta > 0
        )
        """
    )
    with op.batch_alter_table('point_lots', schema=None) as batch_op:
        batch_op.alter_column('entry_id', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_point_lots_entry_id'), ['entry_id'])
        batch_op.create_foreign_key(
            batch_op.f('fk_point_lots_entry_id_point_entries'),
            'point_entries',
            ['entry_id'],
            ['id'],
        )
    with op.batch_alter_table('point_entries', schema=None) as batch_op:
        batch_op.drop_index(
            'ix_point_entries_reverses_entry_id',
            postgresql_where=sa.text('reverses_entry_id IS NOT NULL'),
        )
        batch_op.drop_constraint(
            batch_op.f('fk_point_entries_reverses_entry_id_point_entries'), type_='foreignkey'
        )
        batch_op.drop_column('reverses_entry_id')
