"""Members' phones and WeChat session keys encrypted at rest; phones found by a keyed hash.

members.phone_encrypted and session_key_encrypted (Fernet under DATA_ENCRYPTION_KEY) and
phone_hash (HMAC-SHA256 under PHONE_HASH_KEY, unique where the plain phone was) are added and
filled from the plain columns in batches of BATCH members (keyset on id, one UPDATE ... FROM
unnest per batch: neither key is in the database, so Python encrypts), then the plain columns
go. The keys come from the app's configuration (run it as `flask --app wsgi db upgrade` with the
production environment).

Revision ID: i17_personal_data_encrypted
Revises: i15_summaries_second_day
Create Date: 2026-12-05 14:20:00

"""
import sqlalchemy as sa
from alembic import op

from app import encryption

# revision identifiers, used by Alembic.
revision = 'i17_personal_data_encrypted'
down_revision = 'i15_summaries_second_day'
branch_labels = None
depends_on = None

BATCH = 5000


def _batches(select_sql: str):
    bind = op.get_bind()
    after = 0
    while True:
        rows = bind.execute(sa.text(select_sql), {"after": after, "n": BATCH}).all()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def upgrade():
    op.add_column('members', sa.Column('session_key_encrypted', sa.Text(), nullable=True))
    op.add_column('members', sa.Column('phone_encrypted', sa.Text(), nullable=True))
    op.add_column('members', sa.Column('phone_hash', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    for rows in _batches(
        "SELECT id, phone, session_key FROM members WHERE id > :after"
        " AND (phone IS NOT NULL OR session_key IS NOT NULL) ORDER BY id LIMIT :n"
    ):
        bind.execute(
            sa.text(
                "UPDATE members m SET phone_encrypted = v.pe, phone_hash = v.ph,"
                " session_key_encrypted = v.sk"
                " FROM unnest(CAST(:ids AS bigint[]), CAST(:pe AS text[]), CAST(:ph AS text[]),"
                " CAST(:sk AS text[])) AS v(id, pe, ph, sk) WHERE m.id = v.id"
            ),
            {
                "ids": [r.id for r in rows],
                "pe": [encryption.encrypt(r.phone) if r.phone else None for r in rows],
                "ph": [encryption.phone_hash(r.phone) for r in rows],
                "sk": [encryption.encrypt(r.session_key) if r.session_key else None for r in rows],
            },
        )
    op.create_unique_constraint(op.f('uq_members_phone_hash'), 'members', ['phone_hash'])
    op.drop_constraint(op.f('uq_members_phone'), 'members', type_='unique')
    op.drop_column('members', 'phone')
    op.drop_column('members', 'session_key')


def downgrade():
    op.add_column('members', sa.Column('phone', sa.String(length=20), nullable=True))
    op.add_column('members', sa.Column('session_key', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    for rows in _batches(
        "SELECT id, phone_encrypted, session_key_encrypted FROM members WHERE id > :after"
        " AND (phone_encrypted IS NOT NULL OR session_key_encrypted IS NOT NULL)"
        " ORDER BY id LIMIT :n"
    ):
        bind.execute(
            sa.text(
                "UPDATE members m SET phone = v.p, session_key = v.sk"
                " FROM unnest(CAST(:ids AS bigint[]), CAST(:p AS text[]), CAST(:sk AS text[]))"
                " AS v(id, p, sk) WHERE m.id = v.id"
            ),
            {
                "ids": [r[0] for r in rows],
                "p": [encryption.decrypt_or_none(r[1]) for r in rows],
                "sk": [encryption.decrypt_or_none(r[2]) for r in rows],
            },
        )
    op.create_unique_constraint(op.f('uq_members_phone'), 'members', ['phone'])
    op.drop_constraint(op.f('uq_members_phone_hash'), 'members', type_='unique')
    op.drop_column('members', 'phone_hash')
    op.drop_column('members', 'phone_encrypted')
    op.drop_column('members', 'session_key_encrypted')
