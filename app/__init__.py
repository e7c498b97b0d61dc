"""The application factory."""

from __future__ import annotations

from flask import Flask

from app.config import load_settings


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app from the environment; `overrides` (tests) win over it."""
    settings = load_settings()
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(settings.as_flask())
    if overrides:
        app.config.update(overrides)

    from app import models  # noqa: F401  (register every table)
    from app.errors import register_error_handlers
    from app.extensions import RedisStore, api, db, limiter, migrate
    from app.logging import configure_logging

    configure_logging(app)
    from app.proxy import trust_proxies

    trust_proxies(app)
    from app.metrics import init_metrics

    init_metrics(app)
    db.init_app(app)
    from app.db_pool import ping_when_idle

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
    from app.api_docs import init_api_docs

    init_api_docs(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "opaque"}
    )
    register_error_handlers(app)
    from app import clock

    clock.init_app(app)
    from app.input_guard import init_input_guard

    init_input_guard(app)

    from app.api import register_blueprints as register_member_api
    from app.ops import blp as ops_blp
    from app.staff import register_blueprints as register_staff_api
    from app.wechat import register_wechat

    api.register_blueprint(ops_blp)
    register_member_api(api)
    register_staff_api(api)
    register_wechat(app, api)

    from app.console import init_console

    init_console(app)

    from app.cli import register_cli

    register_cli(app)
    return app
