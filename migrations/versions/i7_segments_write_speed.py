"""segments refresh speed: member_segments without foreign key and low-cardinality indexes;
purchases by member and business day (PostgreSQL)

The table is rewritten in full every night from the members table itself. Its foreign key cost a
lookup per row (6 s of a 1,000,000-member refresh) and its indexes on the 4 stages and 8 RFM
groups another 2 s; every reader groups or filters a large share of the rows, which the planner
answers with a scan anyway.

On PostgreSQL, purchases get an index by member and business day (in BUSINESS_TZ) that carries
what the refresh sums: the per-member, per-day aggregation then reads it in order instead of
sorting ten million purchases. Its zone is fixed when it is built: if BUSINESS_TZ changes later,
the planner no longer matches it and the refresh sorts again (slower, never wrong) until the
index is rebuilt for the new zone. The models do not declare it (SQLite has no time zones);
`app.models.till.DATABASE_ONLY_INDEXES` keeps autogenerate from dropping it.

Revision ID: i7_segments_speed
Revises: i6_messaging
Create Date: 2026-11-26 10:40:00

"""
from alembic import op
from flask import current_app


# revision identifiers, used by Alembic.
revision = 'i7_segments_speed'
down_revision = 'i6_messaging'
branch_labels = None
depends_on = None


MEMBER_DAY_INDEX = "ix_purchases_member_business_day"  # app.models.till.DATABASE_ONLY_INDEXES


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        zone = current_app.config.get("BUSINESS_TZ", "Asia/Shanghai").replace("'", "")
        # CONCURRENTLY: the tills keep recording purchases while ten million rows are indexed.
        with op.get_context().autocommit_block():
            op.execute(
                f"CREATE INDEX CONCURRENTLY {MEMBER_DAY_INDEX} ON purchases"
                f" (member_id, (timezone('{zone}', paid_at)::date))"
                " INCLUDE (paid_at, amount_fen, refunded_fen)"
            )
    with op.batch_alter_table('member_segments', schema=None) as batch_op:
        batch_op.drop_index('ix_member_segments_stage')
        batch_op.drop_index('ix_member_segments_rfm_group')
        batch_op.drop_constraint('fk_member_segments_member_id_members', type_='foreignkey')


def downgrade():
    op.execute(f"DROP INDEX IF EXISTS {MEMBER_DAY_INDEX}")
    with op.batch_alter_table('member_segments', schema=None) as batch_op:
        batch_op.create_foreign_key(
            'fk_member_segments_member_id_members', 'members', ['member_id'], ['id']
        )
        batch_op.create_index('ix_member_segments_rfm_group', ['rfm_group'], unique=False)
        batch_op.create_index('ix_member_segments_stage', ['lifecycle_stage'], unique=False)
