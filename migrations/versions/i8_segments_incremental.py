"""segments refresh, incremental: per-member purchase summaries kept between nights, the log of
members whose purchases changed (filled by triggers on purchases), the refresh's state; the
model's odds move from member_segments to segment_model_values (one row per purchase pattern,
written beside member_segments), which members point to by model_key. Odds are empty until the
next refresh.

Revision ID: i8_segments_incremental
Revises: i7_segments_speed
Create Date: 2026-12-01 22:40:00

"""
from alembic import op
import sqlalchemy as sa
import app.models.base


# revision identifiers, used by Alembic.
revision = 'i8_segments_incremental'
down_revision = 'i7_segments_speed'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# The same text as app.models.segments.PURCHASE_TRIGGERS (frozen here, as migrations are).
TRIGGERS = {
    "postgresql": [
        """
        CREATE OR REPLACE FUNCTION segment_changes_log() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO segment_changes (member_id, paid_from)
                SELECT member_id, MIN(paid_at) FROM new_rows GROUP BY member_id;
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO segment_changes (member_id) VALUES (OLD.member_id);
            ELSE
                INSERT INTO segment_changes (member_id) VALUES (NEW.member_id);
                IF OLD.member_id <> NEW.member_id THEN
                    INSERT INTO segment_changes (member_id) VALUES (OLD.member_id);
                END IF;
            END IF;
            RETURN NULL;
        END
        $$
        """,
        "CREATE OR REPLACE TRIGGER purchases_segment_insert AFTER INSERT ON purchases"
        " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION segment_changes_log()",
        "CREATE OR REPLACE TRIGGER purchases_segment_update AFTER UPDATE ON purchases FOR EACH ROW"
        " WHEN (OLD.refunded_fen <> NEW.refunded_fen OR OLD.amount_fen <> NEW.amount_fen"
        " OR OLD.paid_at <> NEW.paid_at OR OLD.member_id <> NEW.member_id)"
        " EXECUTE FUNCTION segment_changes_log()",
        "CREATE OR REPLACE TRIGGER purchases_segment_delete AFTER DELETE ON purchases FOR EACH ROW"
        " EXECUTE FUNCTION segment_changes_log()",
    ],
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS purchases_segment_insert AFTER INSERT ON purchases"
        " BEGIN INSERT INTO segment_changes (member_id, paid_from)"
        " VALUES (NEW.member_id, NEW.paid_at); END",
        "CREATE TRIGGER IF NOT EXISTS purchases_segment_update AFTER UPDATE ON purchases"
        " WHEN OLD.refunded_fen <> NEW.refunded_fen OR OLD.amount_fen <> NEW.amount_fen"
        " OR OLD.paid_at <> NEW.paid_at OR OLD.member_id <> NEW.member_id"
        " BEGIN INSERT INTO segment_changes (member_id) VALUES (NEW.member_id);"
        " INSERT INTO segment_changes (member_id) SELECT OLD.member_id"
        " WHERE OLD.member_id <> NEW.member_id; END",
        "CREATE TRIGGER IF NOT EXISTS purchases_segment_delete AFTER DELETE ON purchases"
        " BEGIN INSERT INTO segment_changes (member_id) VALUES (OLD.member_id); END",
    ],
}
TRIGGER_NAMES = ("purchases_segment_insert", "purchases_segment_update", "purchases_segment_delete")


def upgrade():
    op.create_table('member_purchase_summaries',
    sa.Column('member_id', BIG_ID, autoincrement=False, nullable=False),
    sa.Column('frequency', sa.BigInteger(), nullable=False),
    sa.Column('monetary_fen', sa.BigInteger(), nullable=False),
    sa.Column('last_paid_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_day', sa.Integer(), nullable=False),
    sa.Column('last_day', sa.Integer(), nullable=False),
    sa.Column('n_days', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_member_purchase_summaries'))
    )
    op.create_table('segment_changes',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('member_id', BIG_ID, nullable=False),
    sa.Column('paid_from', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_changes'))
    )
    op.create_table('segment_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_start', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('business_tz', sa.String(length=64), nullable=False),
    sa.Column('model', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_state'))
    )
    op.create_table('segment_model_values',
    sa.Column('k', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('p_alive', sa.Float(), nullable=False),
    sa.Column('expected', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('k', name=op.f('pk_segment_model_values'))
    )
    with op.batch_alter_table('member_segments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model_key', sa.BigInteger(), nullable=True))
        batch_op.drop_column('expected_purchases_90d')
        batch_op.drop_column('p_alive')
    # The first refresh after this builds every summary from the purchases (no state yet).
    for statement in TRIGGERS.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    for name in TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (
            " ON purchases" if op.get_bind().dialect.name == "postgresql" else ""
        ))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS segment_changes_log()")
    with op.batch_alter_table('member_segments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('p_alive', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('expected_purchases_90d', sa.Float(), nullable=True))
        batch_op.drop_column('model_key')
    op.drop_table('segment_model_values')
    op.drop_table('segment_state')
    op.drop_table('segment_changes')
    op.drop_table('member_purchase_summaries')
