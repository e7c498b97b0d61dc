"""POST /staff/v1/auth/login: wrong passwords counted per username and address (see
services/staff/login_attempts.py), every attempt per address."""

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


@blp.route("/login")
class StaffLogin(MethodView):
    decorators = [limiter.limit("30/minute")]

    @blp.arguments(StaffLoginSchema)
    @blp.response(200, StaffLoginResultSchema)
    @blp.alt_response(401, schema=ErrorBodySchema, description="auth.invalid_credentials")
    @blp.alt_response(429, schema=ErrorBodySchema, description="rate.limited")
    def post(self, body):
        """Sign in with username and password."""
        staff = staff_service.sign_in(
            db.session, body["username"], body["password"], request.remote_addr or ""
        )
        token, expires_in = issue_staff_token(staff.id)
        return StaffSignIn(token, expires_in, staff)
