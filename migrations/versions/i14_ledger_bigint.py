"""points and money 64-bit: balances, entries, lots, purchase and refund amounts and points, a
lottery's budget and points given. At 100 points a yuan the 15th purchase of 1,000,000 yuan took
a balance past 2^31 (a 500, the purchase lost).

Each table is rewritten once (one ALTER TABLE per table) under an exclusive lock: on ten million
purchases that is a minute or two with the tills waiting, so run it outside opening hours.
The trigger on purchases names amount_fen and refunded_fen in its WHEN, and PostgreSQL will not
change the type of a column a trigger names: it is dropped and made again around the change.
SQLite's INTEGER is 64-bit already: nothing to do there.

Revision ID: i14_ledger_bigint
Revises: i8_segments_incremental
Create Date: 2026-12-20 10:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'i14_ledger_bigint'
down_revision = 'i8_segments_incremental'
branch_labels = None
depends_on = None

COLUMNS = {
    "members": ("points_balance",),
    "point_entries": ("delta", "balance_after"),
    "point_lots": ("earned", "remaining"),
    "purchases": ("amount_fen", "refunded_fen", "points_awarded", "points_reversed"),
    "refunds": ("amount_fen", "points_reversed"),
    "lotteries": ("points_budget", "points_given"),
}

# The same text as in i8_segments_incremental (and app.models.segments.PURCHASE_TRIGGERS).
UPDATE_TRIGGER = (
    "CREATE OR REPLACE TRIGGER purchases_segment_update AFTER UPDATE ON purchases FOR EACH ROW"
    " WHEN (OLD.refunded_fen <> NEW.refunded_fen OR OLD.amount_fen <> NEW.amount_fen"
    " OR OLD.paid_at <> NEW.paid_at OR OLD.member_id <> NEW.member_id)"
    " EXECUTE FUNCTION segment_changes_log()"
)


def _retype(type_name: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS purchases_segment_update ON purchases")
    for table, columns in COLUMNS.items():
        changes = ", ".join(f"ALTER COLUMN {c} TYPE {type_name}" for c in columns)
        op.execute(f"ALTER TABLE {table} {changes}")
    op.execute(UPDATE_TRIGGER)


def upgrade():
    _retype("BIGINT")


def downgrade():
    # Fails (integer out of range) if any value no longer fits in 32 bits: nothing is cut.
    _retype("INTEGER")
