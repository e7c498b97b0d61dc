"""Phones and WeChat session keys encrypted at rest, found by a keyed hash; the keys rotate."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from app import encryption
from app.config import ConfigError, load_settings
from app.models import Member
from app.models.pos import PosKey
from app.services.pos import keys as pos_keys
from tests.conftest import REDIS_URL, database_on, shared_limiter

PRODUCTION = {
    "SECRET_KEY": "x" * 32,
    "DATABASE_URL": "postgresql://db.internal/huiyuan",
    "WECHAT_MINIAPP_APPID": "wx1",
    "WECHAT_MINIAPP_SECRET": "s",
    "DATA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "PHONE_HASH_KEY": "p" * 32,
}


def test_production_refuses_to_start_without_the_phone_hash_key():
    assert load_settings(PRODUCTION).PHONE_HASH_KEY == "p" * 32
    with pytest.raises(ConfigError, match="PHONE_HASH_KEY is not set"):
        load_settings({k: v for k, v in PRODUCTION.items() if k != "PHONE_HASH_KEY"})
    with pytest.raises(ConfigError, match="PHONE_HASH_KEY is too short"):
        load_settings({**PRODUCTION, "PHONE_HASH_KEY": "short"})
    with pytest.raises(ConfigError, match="DATA_ENCRYPTION_KEY is not set"):
        load_settings({k: v for k, v in PRODUCTION.items() if k != "DATA_ENCRYPTION_KEY"})
    # The sandbox and the tests derive development keys.
    sandbox = load_settings({"SANDBOX": "1"})
    assert sandbox.PHONE_HASH_KEY and sandbox.DATA_ENCRYPTION_KEY


def test_the_encryption_keys_are_a_list_the_first_of_which_encrypts():
    new, old = Fernet.generate_key().decode(), PRODUCTION["DATA_ENCRYPTION_KEY"]
    settings = load_settings({**PRODUCTION, "DATA_ENCRYPTION_KEY": f" {new} , {old} "})
    assert f"{new},{old}" == settings.DATA_ENCRYPTION_KEY
    with pytest.raises(ConfigError, match="key 2 of 2 is not a Fernet key"):
        load_settings({**PRODUCTION, "DATA_ENCRYPTION_KEY": f"{new},not-a-key"})
    with pytest.raises(ConfigError, match="one key twice"):
        load_settings({**PRODUCTION, "DATA_ENCRYPTION_KEY": f"{new},{new}"})


def test_a_bound_phone_and_the_session_key_are_not_in_the_database_in_clear(client, login, session):
    body, headers = login("alice")
    bound = client.post(
        "/api/v1/me/phone", json={"code": "test-phone:13812345678"}, headers=headers
    )
    assert bound.status_code == 200 and bound.get_json()["phone_masked"] == "138****5678"
    assert client.get("/api/v1/me", headers=headers).get_json()["phone_masked"] == "138****5678"
    columns = {c["name"] for c in sa.inspect(session.get_bind()).get_columns("members")}
    assert "phone" not in columns and "session_key" not in columns
    row = session.execute(
        sa.text("SELECT * FROM members WHERE id = :id"), {"id": body["member"]["id"]}
    ).one()
    assert "13812345678" not in repr(tuple(row))
    expected = hmac.new(
        client.application.config["PHONE_HASH_KEY"].encode(), b"13812345678", hashlib.sha256
    ).hexdigest()
    assert row.phone_hash == expected
    assert encryption.decrypt(row.phone_encrypted) == "13812345678"
    # The sandbox's session key for "alice", kept encrypted.
    sandbox_key = base64.b64encode(hashlib.sha256(b"alice").digest()[:16]).decode()
    assert sandbox_key not in repr(tuple(row))
    assert encryption.decrypt(row.session_key_encrypted) == sandbox_key


def test_lookups_by_phone_use_the_hash_and_accept_the_number_as_people_write_it(
    client, make_store, make_staff, make_member, staff_headers
):
    store = make_store()
    member = make_member(store=store, phone="13800000001")
    manager = staff_headers(make_staff("manager", store=store))
    for written in ("13800000001", "138-0000-0001", "+86 138 0000 0001"):
        found = client.get("/staff/v1/members", query_string={"phone": written}, headers=manager)
        assert [m["id"] for m in found.get_json()["items"]] == [member.id], written


def test_two_members_cannot_share_a_phone_through_the_hash(session, make_member):
    make_member(phone="13900000009")
    with pytest.raises(sa.exc.IntegrityError):
        make_member(phone="13900000009")
    session.rollback()


def test_rotation_re_encrypts_everything_under_the_new_keys(
    app, client, session, make_store, make_staff, make_member, staff_headers, monkeypatch
):
    store = make_store()
    admin = make_staff("admin")
    members = [make_member(store=store, phone=f"1370000{n:04d}") for n in range(7)]
    members[0].session_key = "c2Vzc2lvbi1rZXk="
    session.commit()
    secret = pos_keys.create_key(session, store.id, admin).secret
    old_keys = app.config["DATA_ENCRYPTION_KEY"]
    new_key, new_hash_key = Fernet.generate_key().decode(), secrets.token_hex(32)
    monkeypatch.setitem(app.config, "DATA_ENCRYPTION_KEY", f"{new_key},{old_keys}")
    monkeypatch.setitem(app.config, "PHONE_HASH_KEY", new_hash_key)

    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--batch", "3"])
    assert result.exit_code == 0, result.output
    assert "7 members and 1 POS keys re-encrypted; 0 unreadable" in result.output

    # The old key can go: everything opens under the new one alone.
    monkeypatch.setitem(app.config, "DATA_ENCRYPTION_KEY", new_key)
    session.expire_all()
    assert [session.get(Member, m.id).phone for m in members] == [
        f"1370000{n:04d}" for n in range(7)
    ]
    assert session.get(Member, members[0].id).session_key == "c2Vzc2lvbi1rZXk="
    key = session.execute(sa.select(PosKey)).scalar_one()
    assert encryption.decrypt(key.secret_encrypted) == secret
    # And the phones are found under the new hash key.
    manager = staff_headers(make_staff("manager", store=store))
    found = client.get("/staff/v1/members?phone=13700000003", headers=manager).get_json()
    assert [m["id"] for m in found["items"]] == [members[3].id]


def test_rotation_counts_what_no_configured_key_opens(app, session, make_member, monkeypatch):
    make_member(phone="13600000001")
    monkeypatch.setitem(app.config, "DATA_ENCRYPTION_KEY", Fernet.generate_key().decode())
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 1
    assert "0 members and 0 POS keys re-encrypted; 1 unreadable" in result.output


def test_the_migration_encrypts_the_phones_already_there(pg_server_url, app):
    """Upgrade a database holding plain phones: they come out encrypted and hashed, in
    batches, and the downgrade gives them back."""
    from flask_migrate import downgrade, upgrade

    from app import create_app
    from app.extensions import db

    name = f"hy_enc_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        fresh = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": database_on(pg_server_url, name),
                "SQLALCHEMY_ENGINE_OPTIONS": {},
                "REDIS_URL": REDIS_URL,
                **shared_limiter(app),
            }
        )
        with fresh.app_context():
            upgrade(revision="i19_membership")
            with db.engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO members (member_no, referral_code, nickname, avatar_url,"
                        " gender, tier_code, points_balance, joined_at, updated_at, phone,"
                        " session_key)"
                        " SELECT 'M' || n, 'R' || n, '', '', 0, '', 0, now(), now(),"
                        " CASE WHEN n % 3 <> 0 THEN '135000' || lpad(n::text, 5, '0') END,"
                        " CASE WHEN n % 2 = 0 THEN 'sk' || n END"
                        " FROM generate_series(1, 12001) n"
                    )
                )
            upgrade()
            with db.engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT member_no, phone_encrypted, phone_hash, session_key_encrypted"
                        " FROM members ORDER BY id"
                    )
                ).all()
            assert len(rows) == 12001
            for n, row in enumerate(rows, 1):
                phone = f"135000{n:05d}" if n % 3 else None
                assert encryption.decrypt_or_none(row.phone_encrypted) == phone
                assert row.phone_hash == encryption.phone_hash(phone)
                assert encryption.decrypt_or_none(row.session_key_encrypted) == (
                    f"sk{n}" if n % 2 == 0 else None
                )
            downgrade(revision="i19_membership")
            with db.engine.connect() as conn:
                back = conn.execute(
                    sa.text("SELECT phone FROM members WHERE member_no = 'M4'")
                ).scalar_one()
            assert back == "13500000004"  # member M4
            db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
