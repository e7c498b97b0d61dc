"""The one error type and the one handler that renders every failure as the contract's body."""

from __future__ import annotations

import logging
from typing import Any

import marshmallow as ma
from flask import Flask, g, jsonify
from flask_smorest import Api
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("huiyuan.errors")


class AppError(Exception):
    """A failure the client can act on: a dotted code, an HTTP status and a human message."""

    def __init__(
        self,
        code: str,
        status: int = 400,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or code)
        self.code = code
        self.status = status
        self.message = message or code
        self.details = details or {}
        self.headers = headers or {}

    def to_body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ServiceUnavailable(AppError):
    def __init__(self, what: str) -> None:
        super().__init__(
            "service.unavailable",
            503,
            f"The {what} is unavailable; try again shortly.",
            headers={"Retry-After": "5"},
        )


class ErrorBodySchema(ma.Schema):
    class Inner(ma.Schema):
        code = ma.fields.String(required=True, metadata={"example": "points.insufficient"})
        message = ma.fields.String(required=True)
        details = ma.fields.Dict()

    error = ma.fields.Nested(Inner, required=True)


_HTTP_CODES = {
    400: ("request.malformed", "The request could not be read."),
    401: ("auth.required", "Sign in first."),
    403: ("auth.forbidden", "You are not allowed to do this."),
    404: ("not_found", "Not found."),
    405: ("method.not_allowed", "This method is not allowed here."),
    409: ("conflict", "The request conflicts with the current state."),
    413: ("request.too_large", "The request body is too large."),
    415: ("request.unsupported_media_type", "Send JSON."),
    422: ("request.invalid", "The request has invalid fields."),
    429: ("rate.limited", "Too many requests; slow down."),
}


def render_error(err: AppError):
    response = jsonify(err.to_body())
    response.status_code = err.status
    for name, value in err.headers.items():
        response.headers[name] = value
    return response


def _from_http_exception(exc: HTTPException) -> AppError:
    status = exc.code or 500
    code, message = _HTTP_CODES.get(status, ("http.error", exc.name))
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}
    data = getattr(exc, "data", None) or {}
    if status == 422:
        messages = data.get("messages") or {}
        # webargs nests by location ("json", "query"); flatten to field -> messages.
        for location_messages in messages.values():
            if isinstance(location_messages, dict):
                details.update(location_messages)
            else:
                details["_schema"] = location_messages
    elif status == 429:
        retry_after = None
        if exc.response is not None:
            retry_after = exc.response.headers.get("Retry-After")
        headers["Retry-After"] = retry_after or "60"
        description = getattr(exc, "description", None)
        if description:
            details["limit"] = str(description)
    elif status == 400 and data.get("messages"):
        details = {"body": ["The body is not valid JSON."]}
    return AppError(code, status, message, details, headers)


class HuiyuanApi(Api):
    """flask-smorest Api whose error handler and documented error body follow the contract."""

    ERROR_SCHEMA = ErrorBodySchema

    def handle_http_exception(self, error: HTTPException):
        return render_error(_from_http_exception(error))


def register_error_handlers(app: Flask) -> None:

    @app.errorhandler(AppError)
    def _app_error(err: AppError):
        # A refused use case leaves nothing behind in the session.
        _rollback_quietly()
        return render_error(err)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return render_error(_from_http_exception(exc))

    def _db_down(exc: Exception):
        log.warning("database unavailable: %s", type(exc).__name__)
        _rollback_quietly()
        return render_error(ServiceUnavailable("database"))

    @app.errorhandler(OperationalError)
    def _db_operational(exc):
        return _db_down(exc)

    @app.errorhandler(PoolTimeoutError)
    def _db_pool(exc):
        return _db_down(exc)

    @app.errorhandler(DBAPIError)
    def _db_api(exc: DBAPIError):
        if exc.connection_invalidated:
            return _db_down(exc)
        return _unhandled(exc)

    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def _redis_down(exc):
        log.warning("redis unavailable: %s", type(exc).__name__)
        _rollback_quietly()
        return render_error(ServiceUnavailable("cache"))

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        log.exception("unhandled error request_id=%s", g.get("request_id"))
        _rollback_quietly()
        return render_error(
            AppError(
                "internal.error",
                500,
                "Something went wrong on our side. Quote the request id to support.",
                {"request_id": g.get("request_id")},
            )
        )


def _rollback_quietly() -> None:
    # Lazy: app.extensions imports this module (HuiyuanApi), a real cycle.
    from app.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone; nothing more to do
        log.debug("rollback after error failed", exc_info=True)
