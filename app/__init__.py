"""The application factory."""

from __future__ import annotations

from flask import Flask

from app import models  # noqa: F401  (registers every table)
from app.api import register_blueprints as register_member_api
from app.cli import register_cli
from app.config import load_settings
from app.console import init_console
from app.db_pool import ping_when_idle
from app.errors import register_error_handlers
from app.extensions import RedisStore, api, db, limiter, migrate
from app.input_guard import init_input_guard
from app.logging import configure_logging
from app.metrics import init_metrics
from app.ops import blp as ops_blp
from app.proxy import trust_proxies
from app.staff import register_blueprints as register_staff_api
from app.wechat import register_wechat


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app from the environment; `overrides` (tests) win over it."""
    settings = load_settings()
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(settings.as_flask())
    if overrides:
        app.config.update(overrides)

    configure_logging(app)

    trust_proxies(app)

    init_metrics(app)
    db.init_app(app)

    with app.app_context():
        for engine in db.engines.values():
            ping_when_idle(engine)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    RedisStore().init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", app.config["REDIS_KEY_PREFIX"] + "rl")
    app.config.setdefault("RATELIMIT_STRATEGY", "fixed-window")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "opaque"}
    )
    register_error_handlers(app)

    init_input_guard(app)

    api.register_blueprint(ops_blp)
    register_member_api(api)
    register_staff_api(api)
    register_wechat(app, api)

    init_console(app)

    register_cli(app)
    return app
