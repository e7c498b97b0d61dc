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


# The one catalogue of error codes: every code the API answers with, its HTTP status and a
# default message (a raise may say more). The contract names these codes; never rename one.
CODES: dict[str, tuple[int | None, str]] = {
    # The HTTP layer: what Flask, webargs and the limiter refuse before a handler runs.
    "request.malformed": (400, "The request could not be read."),
    "auth.required": (401, "Sign in first."),
    "auth.forbidden": (403, "You are not allowed to do this."),
    "not_found": (404, "Not found."),
    "method.not_allowed": (405, "This method is not allowed here."),
    "conflict": (409, "The request conflicts with the current state."),
    "request.too_large": (413, "The request body is too large."),
    "request.unsupported_media_type": (415, "Send JSON."),
    "request.invalid": (422, "The request has invalid fields."),
    "rate.limited": (429, "Too many requests; slow down."),
    "internal.error": (500, "Something went wrong on our side. Quote the request id to support."),
    "service.unavailable": (503, "A service is unavailable; try again shortly."),
    "http.error": (None, "The request failed."),  # any other HTTP status, as werkzeug raised it
    # Sign-in and tokens.
    "auth.invalid_credentials": (401, "Wrong username or password."),
    "auth.invalid_token": (401, "The token is not valid here."),
    "auth.token_expired": (401, "The token has expired; sign in again."),
    "idempotency.in_progress": (
        409,
        "A request with this Idempotency-Key is still being processed.",
    ),
    "idempotency.mismatch": (409, "This Idempotency-Key was used with a different request."),
    # Members and the member code.
    "member.not_found": (404, "No such member."),
    "member.birthday_locked": (409, "The birthday is set; ask a store to change it."),
    "member.phone_taken": (409, "This phone number belongs to another member."),
    "member.create_failed": (503, "Could not create the member; try again."),
    "member_code.unknown": (404, "This is not a member code."),
    "member_code.used": (409, "This member code was already scanned."),
    "member_code.expired": (410, "This member code has expired; ask for a fresh one."),
    "member_code.unavailable": (503, "Try again in a moment."),
    # Points, check-in, the till.
    "points.insufficient": (409, "Not enough points."),
    "checkin.already_done": (409, "Already checked in today."),
    "checkin.makeup_limit_reached": (409, "No make-up check-ins left this month."),
    "checkin.makeup_out_of_window": (422, "This day cannot be made up."),
    "scan.not_found": (404, "No such scan; scan the member code again."),
    "scan.expired": (410, "The scan has expired; scan the member code again."),
    "phone_lookup.unknown": (404, "No such phone lookup here; look the phone number up again."),
    "phone_lookup.mismatch": (422, "The last four digits do not match."),
    "purchase.not_found": (404, "No such order at this store."),
    "purchase.duplicate_order": (
        409,
        "This order number was already recorded with different details.",
    ),
    "refund.duplicate": (409, "This refund number was already used with another amount."),
    "refund.exceeds_purchase": (422, "The refunds would exceed what was paid."),
    # Coupons.
    "coupon.not_found": (404, "No such coupon."),
    "coupon.not_claimable": (409, "This coupon cannot be claimed now."),
    "coupon.limit_reached": (409, "You already hold as many of this coupon as allowed."),
    "coupon.out_of_stock": (409, "This coupon has run out."),
    "coupon.used": (409, "This coupon has already been used."),
    "coupon.expired": (409, "This coupon has expired."),
    "coupon.not_yet_valid": (409, "This coupon cannot be used yet."),
    "coupon.stock_below_issued": (
        409,
        "The stock cannot be lower than the coupons already issued.",
    ),
    "coupon.threshold_not_met": (422, "The order does not reach this coupon's threshold."),
    "redemption.not_found": (404, "No such redemption."),
    # Lotteries.
    "lottery.not_found": (404, "No such lottery."),
    "lottery.prize_not_found": (404, "No such prize."),
    "lottery.win_not_found": (404, "No such prize won by this member."),
    "lottery.not_active": (409, "This lottery is not open."),
    "lottery.nothing_left": (409, "Nothing is left to win in this lottery."),
    "lottery.already_fulfilled": (409, "This prize was already handed over."),
    "lottery.budget_below_given": (
        409,
        "The budget cannot be lower than the points already given.",
    ),
    "lottery.stock_below_won": (409, "The stock cannot be lower than the prizes already won."),
    "lottery.daily_limit": (429, "No draws left today."),
    # Referrals, campaigns, messages.
    "referral.not_found": (404, "No such referral."),
    "campaign.not_found": (404, "No such campaign."),
    "campaign.not_draft": (409, "Only drafts can be changed."),
    "campaign.not_editable": (409, "Only drafts are deleted; cancel instead."),
    "campaign.not_cancellable": (409, "This campaign can no longer be cancelled."),
    "message.invalid_template": (422, "The template breaks WeChat's field rules."),
    # Staff and stores.
    "staff.store_required": (403, "Till actions need a staff account bound to a store."),
    "staff.self_lockout": (409, "You cannot demote or deactivate yourself."),
    "staff.username_taken": (409, "This username is taken."),
    "store.code_taken": (409, "This store code is taken."),
    # WeChat.
    "wechat.invalid_code": (
        400,
        "The WeChat code is invalid or already used; call wx.login again.",
    ),
    "wechat.bad_signature": (403, "The WeChat signature does not match."),
    "wechat.user_blocked": (403, "WeChat blocked this user as high-risk."),
    "wechat.error": (502, "WeChat refused the request."),
    "wechat.unavailable": (502, "WeChat did not answer; try again."),
    # Named by the contract for features not built yet (the points mall, the POS API).
    "points.redeem_over_limit": (422, "Too many points for this order."),
    "mall.not_available": (409, "This item is not available."),
    "mall.out_of_stock": (409, "This item has run out."),
    "mall.limit_reached": (409, "You have exchanged as many of this item as allowed."),
    "exchange.unknown": (404, "No such exchange."),
    "exchange.already_collected": (409, "This exchange was already collected."),
    "exchange.not_cancellable": (409, "This exchange can no longer be cancelled."),
    "mall.stock_below_exchanged": (
        409,
        "The stock cannot be lower than the units already exchanged.",
    ),
    "pos.bad_signature": (401, "The request signature does not match."),
    "pos.key_revoked": (401, "This POS key was revoked."),
    "pos.stale_timestamp": (401, "The request timestamp is too far from now."),
    "pos.replayed": (401, "This request was already received."),
    "pos_key.not_found": (404, "No such POS key at this store."),
    "purchase.lines_mismatch": (422, "The lines do not add up to the order's amount."),
    "membership.plan_inactive": (409, "This plan is not on sale."),
    "membership.not_refundable": (409, "This membership order is not paid; nothing to refund."),
}


class AppError(Exception):
    """A failure the client can act on: a dotted code of CODES, its status and a human message.

    The status comes from the catalogue; a status given here must agree with it. An unknown code
    is a programming error (ValueError), caught by tests/test_error_codes.py before it ships.
    """

    def __init__(
        self,
        code: str,
        status: int | None = None,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code not in CODES:
            raise ValueError(f"error code {code!r} is not in app.errors.CODES")
        catalogued, default_message = CODES[code]
        if catalogued is not None and status is not None and status != catalogued:
            raise ValueError(f"error code {code!r} is {catalogued}, not {status}")
        status = catalogued or status or 500
        message = message or default_message
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
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


# Deadlock detected, serialization failure: PostgreSQL rolled the transaction back, and running it
# again may well succeed (app.unit_of_work.retrying does, at the entry points).
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def aborted_by_contention(exc: BaseException) -> bool:
    """Whether PostgreSQL aborted the transaction for a deadlock or a serialization failure."""
    return (
        isinstance(exc, DBAPIError)
        and getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
        and not exc.connection_invalidated
    )


class Contention(AppError):
    """Every attempt was aborted: the database is up, the request met others on the same rows."""

    def __init__(self) -> None:
        super().__init__(
            "conflict",
            409,
            "Other requests changed the same records at the same moment; try again.",
            headers={"Retry-After": "1"},
        )


class ErrorBodySchema(ma.Schema):
    class Inner(ma.Schema):
        code = ma.fields.String(required=True, metadata={"example": "points.insufficient"})
        message = ma.fields.String(required=True)
        details = ma.fields.Dict()

    error = ma.fields.Nested(Inner, required=True)


# The catalogue's code for each status werkzeug or webargs may raise.
_HTTP_CODES = {
    400: "request.malformed",
    401: "auth.required",
    403: "auth.forbidden",
    404: "not_found",
    405: "method.not_allowed",
    409: "conflict",
    413: "request.too_large",
    415: "request.unsupported_media_type",
    422: "request.invalid",
    429: "rate.limited",
}


def render_error(err: AppError):
    response = jsonify(err.to_body())
    response.status_code = err.status
    for name, value in err.headers.items():
        response.headers[name] = value
    return response


def _from_http_exception(exc: HTTPException) -> AppError:
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "http.error")
    message = CODES[code][1] if code != "http.error" else exc.name
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
    elif status == 405 and getattr(exc, "valid_methods", None):
        # RFC 9110: a 405 lists the methods the resource does take.
        headers["Allow"] = ", ".join(exc.valid_methods)
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
        if aborted_by_contention(exc):  # a deadlock outside a retrying entry point: not "down"
            log.warning("transaction aborted by the database: %s", exc.orig.sqlstate)
            _rollback_quietly()
            return render_error(Contention())
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
                message="Something went wrong on our side. Quote the request id to support.",
                details={"request_id": g.get("request_id")},
            )
        )


def _rollback_quietly() -> None:
    # Lazy: app.extensions imports this module (HuiyuanApi), a real cycle.
    from app.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone; nothing more to do
        log.debug("rollback after error failed", exc_info=True)
