"""The console's sign-in session: a signed cookie holding the staff id, checked on every page.

The cookie carries only the staff id and when the session started (Flask signs it with
SECRET_KEY). Every console request reloads the staff member, so a deactivated account or a role
change takes effect at the next click. The pages call the staff API with a bearer token issued
when the page is rendered; the API checks roles again on its own.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import abort, redirect, request, session, url_for

from app import clock
from app.console.menus import PAGES_BY_NAME, may_open
from app.extensions import db
from app.models import Staff

LANGUAGES = ("zh", "en")
_STAFF_KEY = "huiyuan.console.staff"
PAGE_KEY = "huiyuan.console.page"


def sign_in(staff: Staff) -> None:
    """Start a console session for this staff member (a fresh cookie: no fixation)."""
    lang = session.get("lang")
    session.clear()
    session.permanent = True  # lasts PERMANENT_SESSION_LIFETIME (the staff token's lifetime)
    session["sid"] = staff.id
    session["since"] = int(clock.now().timestamp())
    session["csrf"] = secrets.token_urlsafe(24)
    if lang:
        session["lang"] = lang


def sign_out() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def current_staff() -> Staff | None:
    """The signed-in, still active staff member, or None."""
    # Cached on the request (not on g: an app context may outlive one request).
    if _STAFF_KEY in request.environ:
        return request.environ[_STAFF_KEY]
    staff_id = session.get("sid")
    staff = db.session.get(Staff, staff_id) if isinstance(staff_id, int) else None
    if staff is not None and not staff.is_active:
        staff = None
    request.environ[_STAFF_KEY] = staff
    return staff


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token


def csrf_ok() -> bool:
    """The console's own form posts (sign-in, sign-out) carry the session's token."""
    sent = request.form.get("csrf", "")
    expected = session.get("csrf", "")
    return bool(expected) and hmac.compare_digest(sent, expected)


def check_csrf() -> None:
    if not csrf_ok():
        abort(400)


def safe_next(target: str | None) -> str | None:
    """Only a path inside the console may be a redirect target (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return None
    if "\\" in target or "//" in parts.path:
        return None
    return target


def console_page(name: str) -> Callable:
    """Guard a console view: signed in, else to the sign-in page; allowed, else 403."""
    page = PAGES_BY_NAME[name]

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            staff = current_staff()
            if staff is None:
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            if not may_open(staff.role, staff.store_id, page):
                abort(403)
            request.environ[PAGE_KEY] = page
            return fn(*args, **kwargs)

        return wrapper

    return decorator


def language() -> str:
    """Chinese unless this browser switched to English."""
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "zh"
