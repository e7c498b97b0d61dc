"""`flask db upgrade` builds the whole schema on an empty database, exactly as the models say."""

from __future__ import annotations

import os
import secrets

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.models.till import DATABASE_ONLY_INDEXES
from tests.conftest import PG_ADMIN_URL, REDIS_URL


def _upgrade_and_diff(url: str) -> list:
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    fresh = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": {},
            "REDIS_URL": REDIS_URL,
        }
    )
    with fresh.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "render_as_batch": True,
                    "include_object": _declared_in_the_models,
                },
            )
            diff = compare_metadata(context, db.metadata)
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("purchases")}
        db.engine.dispose()
    return diff, indexes


def _declared_in_the_models(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in DATABASE_ONLY_INDEXES)


@pytest.mark.postgres
def test_upgrade_builds_the_schema_on_empty_postgres():
    name = f"hy_migr_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        diff, indexes = _upgrade_and_diff(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        assert diff == []
        assert indexes >= DATABASE_ONLY_INDEXES  # the segments refresh reads purchases by it
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_builds_the_schema_on_empty_sqlite(tmp_path):
    diff, indexes = _upgrade_and_diff(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    assert diff == []
    assert not DATABASE_ONLY_INDEXES & indexes
