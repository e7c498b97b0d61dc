"""The application factory."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask

from app import (
    clock,
    models,  # noqa: F401  (registers every table)
)
from app.api import register_blueprints as register_member_api
from app.api_docs import init_api_docs
from app.cli import register_cli
from app.config import ConfigError, load_settings
from app.console import init_console
from app.db_pool import ping_when_idle
from app.db_timeouts import init_db_timeouts
from app.embedded_postgres import start_or_join
from app.errors import register_error_handlers
from app.extensions import RedisStore, api, db, init_limiter, migrate
from app.input_guard import init_input_guard
from app.logging import configure_logging
from app.metrics import init_metrics
from app.ops import blp as ops_blp
from app.pos import register_blueprints as register_pos_api
from app.proxy import trust_proxies
from app.staff import register_blueprints as register_staff_api
from app.wechat import register_wechat

# What `flask … --help` connects to: nothing (it lists and describes commands, runs none).
HELP_ONLY_DATABASE_URL = "postgresql+psycopg://help-only@127.0.0.1:1/none"


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app from the environment; `overrides` (tests) win over it.

    Without DATABASE_URL (sandbox, tests), the embedded PostgreSQL in instance/pg is started or
    joined here. `flask … --help` needs no settings: it gets the app with placeholders (nothing
    is served and no command runs); anything else refuses to start on a ConfigError.
    """
    overrides = overrides or {}
    help_only = _printing_help()
    try:
        settings = load_settings()
    except ConfigError:
        if not help_only:
            raise
        settings = load_settings({"SANDBOX": "1"})
    if settings.DATABASE_URL is None and "SQLALCHEMY_DATABASE_URI" not in overrides:
        settings.DATABASE_URL = (
            HELP_ONLY_DATABASE_URL
            if help_only
            else start_or_join(Path(settings.INSTANCE_DIR) / "pg")
        )
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(settings.as_flask())
    app.config.update(overrides)

    configure_logging(app)
    trust_proxies(app)
    init_metrics(app)
    db.init_app(app)
    with app.app_context():
        init_db_timeouts(app, db.engine)
        ping_when_idle(db.engine, within=app.config["HEALTH_TIMEOUT"])
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    RedisStore().init_app(app)
    init_limiter(app)
    api.init_app(app)
    init_api_docs(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "opaque"}
    )
    register_error_handlers(app)
    clock.init_app(app)
    init_input_guard(app)
    api.register_blueprint(ops_blp)
    register_member_api(api)
    register_staff_api(api)
    register_pos_api(api)
    register_wechat(app, api)
    init_console(app)
    register_cli(app)
    return app


def _printing_help() -> bool:
    """Whether this process is `flask … --help` (click prints the help and invokes nothing)."""
    return click.get_current_context(silent=True) is not None and "--help" in sys.argv[1:]
