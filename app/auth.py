"""Bearer tokens for members and staff, and the decorators that require them.

Member and staff tokens are signed with different salts, so one is never accepted as the other.
A signed token is only as good as who it names: the member or staff member must exist (a row
removed, a restored backup, another deployment sharing SECRET_KEY), and its id must be one the
database can hold (1 to 2^63 - 1), else 401 auth.invalid_token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

from flask import current_app, g, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.errors import AppError
from app.extensions import db
from app.idempotency import HEADER as IDEMPOTENCY_HEADER
from app.models import Staff

ROLE_RANK = {"clerk": 1, "manager": 2, "marketer": 3, "admin": 4}
_MEMBER_SALT = "huiyuan.member-token.v1"
_STAFF_SALT = "huiyuan.staff-token.v1"
# A closed account (注销) is no member: its tokens stop working at once.
_MEMBER_EXISTS = "SELECT 1 FROM members WHERE id = %(id)s AND closed_at IS NULL"
_MAX_ID = 2**63 - 1  # BIGINT: a larger id in a token would be a database error, not a 401


class MemberSignIn(NamedTuple):
    """A member's sign-in: the token, its lifetime in seconds, and the member's profile."""

    token: str
    expires_in: int
    is_new: bool
    member: Any
    signed_up_by: Any = None  # a signups.SignedUpBy, or None


class StaffSignIn(NamedTuple):
    token: str
    expires_in: int
    staff: Any


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def issue_member_token(member_id: int) -> tuple[str, int]:
    ttl = int(current_app.config["MEMBER_TOKEN_TTL"])
    return _serializer(_MEMBER_SALT).dumps({"mid": member_id}), ttl


def issue_staff_token(staff_id: int) -> tuple[str, int]:
    ttl = int(current_app.config["STAFF_TOKEN_TTL"])
    return _serializer(_STAFF_SALT).dumps({"sid": staff_id}), ttl


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AppError("auth.required", message="Send Authorization: Bearer <token>.")
    return token.strip()


def _load(salt: str, ttl_key: str) -> dict:
    try:
        payload = _serializer(salt).loads(_bearer(), max_age=int(current_app.config[ttl_key]))
    except SignatureExpired as exc:
        raise AppError(
            "auth.token_expired", message="The token has expired; sign in again."
        ) from exc
    except BadSignature as exc:
        raise AppError("auth.invalid_token") from exc
    if not isinstance(payload, dict):
        raise AppError("auth.invalid_token")
    return payload


def _id(value: Any) -> int | None:
    """A token's id if it can be a row's (bool is an int to Python, not to us)."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= _MAX_ID:
        return value
    return None


def _member_exists(member_id: int) -> bool:
    """One primary-key read on a pooled connection of its own, in autocommit: one round trip,
    and the request's session begins no transaction before its use case (check-in's single
    statement relies on that). No Member is loaded into the session either."""
    with db.session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return conn.exec_driver_sql(_MEMBER_EXISTS, {"id": member_id}).first() is not None


def member_required(fn: Callable | None = None, *, found_by_use_case: bool = False) -> Callable:
    """The caller is a signed-in member who exists: g.member_id and g.auth_scope are set.

    `found_by_use_case=True` (an endpoint whose use case reads the member anyway, in its one
    statement: GET /me, a check-in) skips the separate primary-key read: the use case's own
    `member.not_found` for the caller is answered 401 auth.invalid_token instead, as the check
    would have. A request with an Idempotency-Key keeps the check first: its key's row is written
    before the use case runs, and must not be for nobody."""
    if fn is None:
        return functools.partial(member_required, found_by_use_case=found_by_use_case)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        payload = _load(_MEMBER_SALT, "MEMBER_TOKEN_TTL")
        member_id = _id(payload.get("mid"))
        if member_id is None:
            raise AppError("auth.invalid_token")
        checked_here = not found_by_use_case or IDEMPOTENCY_HEADER in request.headers
        if checked_here and not _member_exists(member_id):
            raise AppError("auth.invalid_token")
        g.member_id = member_id
        g.auth_scope = f"member:{member_id}"
        if checked_here:
            return fn(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        except AppError as error:
            if error.code == "member.not_found":
                raise AppError("auth.invalid_token") from error
            raise

    _document_security(wrapper)
    return wrapper


def staff_required(min_role: str = "clerk") -> Callable:
    """The caller is an active staff member of at least `min_role`: g.staff is set."""
    needed = ROLE_RANK[min_role]

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            payload = _load(_STAFF_SALT, "STAFF_TOKEN_TTL")
            staff_id = _id(payload.get("sid"))
            staff = db.session.get(Staff, staff_id) if staff_id is not None else None
            if staff is None or not staff.is_active:
                raise AppError("auth.invalid_token")
            if ROLE_RANK[staff.role] < needed:
                raise AppError(
                    "auth.forbidden", message=f"This needs the {min_role} role or above."
                )
            g.staff = staff
            g.auth_scope = f"staff:{staff.id}"
            return fn(*args, **kwargs)

        _document_security(wrapper)
        return wrapper

    return decorator


def _document_security(fn: Callable) -> None:
    apidoc = fn.__dict__.setdefault("_apidoc", {})
    manual = apidoc.setdefault("manual_doc", {})
    manual["security"] = [{"bearerAuth": []}]
