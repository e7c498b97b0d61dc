"""The browser console at /console: sign-in, the till, programs, segments, campaigns, jobs.

Server-rendered page shells (Jinja) plus plain JavaScript modules that call the staff API
(/staff/v1) with a bearer token issued for the signed-in staff member. No business logic lives
here: the views only decide who may open which page; the API does the work and checks roles again.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# Pages may load only their own scripts (vendored libraries included) and talk only to this
# origin; the camera stream is a blob: URL.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)


def init_console(app: Flask) -> None:
    from app.console import views  # noqa: F401  (routes register on bp)

    # The console session lasts as long as the staff token it hands to its pages.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=int(app.config["STAFF_TOKEN_TTL"]))
    app.config["SESSION_COOKIE_NAME"] = "huiyuan_console"
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # Production is served over HTTPS; the sandbox and tests run on plain http://127.0.0.1.
    app.config["SESSION_COOKIE_SECURE"] = not (app.config["SANDBOX"] or app.config["TESTING"])
    app.register_blueprint(bp)
