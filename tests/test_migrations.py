"""`flask db upgrade` builds the whole schema on an empty database, exactly as the models say."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.models.till import DATABASE_ONLY_INDEXES
from app.services import segments
from tests.conftest import REDIS_URL, database_on, shared_limiter


def _upgrade_and_diff(url: str, limiter_settings: dict) -> tuple[list, set, set]:
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    fresh = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": {},
            "REDIS_URL": REDIS_URL,
            **limiter_settings,
        }
    )
    with fresh.app_context():
        upgrade()
        diff, indexes = _diff(db)
        # The nightly refresh swaps in tables it builds itself: they must still match the models.
        segments.refresh(db.session, datetime(2026, 12, 1, 19, 0, tzinfo=UTC))
        diff += _diff(db)[0]
        with db.engine.connect() as conn:
            triggers = _trigger_names(conn)
        db.engine.dispose()
    return diff, indexes, triggers


def _diff(db) -> tuple[list, set]:
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
    return diff, indexes


def _trigger_names(conn) -> set[str]:
    query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    return set(conn.execute(sa.text(query)).scalars())


# What fills segment_changes (app.models.segments.PURCHASE_TRIGGERS), as the migrations make it.
SEGMENT_TRIGGERS = {
    "purchases_segment_insert",
    "purchases_segment_update",
    "purchases_segment_delete",
}


def _declared_in_the_models(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in DATABASE_ONLY_INDEXES)


def test_upgrade_builds_the_schema_on_empty_postgres(pg_server_url, app):
    name = f"hy_migr_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        diff, indexes, triggers = _upgrade_and_diff(
            database_on(pg_server_url, name), shared_limiter(app)
        )
        assert diff == []
        assert indexes >= DATABASE_ONLY_INDEXES  # the segments refresh reads purchases by it
        assert triggers == SEGMENT_TRIGGERS
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
