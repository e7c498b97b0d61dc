"""POST /staff/v1/auth/login, rate-limited per username and per address."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import StaffSignIn, issue_staff_token
from app.errors import ErrorBodySchema
from app.extensions import db, limiter
from app.schemas.staff import StaffLoginResultSchema, StaffLoginSchema
from app.services import staff as staff_service

blp = Blueprint("staff_auth", __name__, url_prefix="/staff/v1/auth", description="Staff sign-in")


def _username_key() -> str:
    body = request.get_json(silent=True)
    username = body.get("username") if isinstance(body, dict) else None
    return f"staff-login:{str(username)[:64].lower()}"


@blp.route("/login")
class StaffLogin(MethodView):
    decorators = [
        limiter.limit("5/minute", key_func=_username_key),
        limiter.limit("30/minute"),
    ]

    @blp.arguments(StaffLoginSchema)
    @blp.response(200, StaffLoginResultSchema)
    @blp.alt_response(401, schema=ErrorBodySchema, description="auth.invalid_credentials")
    @blp.alt_response(429, schema=ErrorBodySchema, description="rate.limited")
    def post(self, body):
        """Sign in with username and password."""
        staff = staff_service.authenticate(db.session, body["username"], body["password"])
        token, expires_in = issue_staff_token(staff.id)
        return StaffSignIn(token, expires_in, staff)
