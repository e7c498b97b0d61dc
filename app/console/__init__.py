"""The browser console at /console: sign-in, the till, programs, segments, analytics, campaigns,
sign-ups, jobs.

Server-rendered page shells (Jinja) plus plain JavaScript modules that call the staff API
(/staff/v1) with a bearer token issued for the signed-in staff member. No business logic lives
here: the views only decide who may open which page; the API does the work and checks roles again.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from app.console import admin_views, benefits_views, report_views, views  # noqa: F401  (routes on bp)
from app.console.blueprint import bp


def init_console(app: Flask) -> None:
    # The console session lasts as long as the staff token it hands to its pages.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=int(app.config["STAFF_TOKEN_TTL"]))
    app.config["SESSION_COOKIE_NAME"] = "huiyuan_console"
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # Production is served over HTTPS; the sandbox and tests run on plain http://127.0.0.1.
    app.config["SESSION_COOKIE_SECURE"] = not (app.config["SANDBOX"] or app.config["TESTING"])
    app.register_blueprint(bp)
