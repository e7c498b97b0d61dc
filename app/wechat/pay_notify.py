"""POST /wechat/pay/notify: WeChat Pay's signed, encrypted notifications.

Verified (the platform certificate of Wechatpay-Serial, a timestamp within 5 minutes) and
decrypted (AES-256-GCM with the API v3 key) by app.wechat.pay, then applied once
(services.membership). WeChat Pay reads the status: 204 on success (a repeat too); otherwise
4xx/5xx with {"code": "FAIL", "message": ...} and it retries for about a day.
"""

from __future__ import annotations

import logging

import marshmallow as ma
from flask import jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.errors import AppError
from app.extensions import db
from app.services import membership
from app.wechat.pay import PayRefused

log = logging.getLogger("huiyuan.wechat.pay")
blp = Blueprint("wechat_pay", __name__, url_prefix="/wechat/pay", description="WeChat Pay")
HEADERS = (
    "Wechatpay-Signature",
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
)


def _fail(status: int, message: str):
    return jsonify({"code": "FAIL", "message": message}), status


class PayFailSchema(ma.Schema):
    """What WeChat Pay reads when a notification is refused (it retries for about a day)."""

    code = ma.fields.String(required=True, metadata={"example": "FAIL"})
    message = ma.fields.String(required=True)


@blp.route("/notify")
class Notify(MethodView):
    @blp.response(204)
    @blp.alt_response(400, schema=PayFailSchema, description="unreadable, or an unknown order")
    @blp.alt_response(401, schema=PayFailSchema, description="signature, serial or time refused")
    @blp.alt_response(503, schema=PayFailSchema, description="WeChat Pay unreachable")
    def post(self):
        """WeChat Pay's notification: the order is paid once; a repeat changes nothing."""
        headers = {name: request.headers.get(name, "") for name in HEADERS}
        headers["Wechatpay-Signature-Type"] = (
            headers["Wechatpay-Signature-Type"] or "WECHATPAY2-SHA256-RSA2048"
        )
        try:
            outcome = membership.handle_notification(db.session, headers, request.get_data())
        except PayRefused as exc:
            db.session.rollback()
            log.warning("WeChat Pay notification refused: %s", exc)
            return _fail(401, f"refused: {exc}")
        except AppError as exc:  # WeChat Pay unreachable for the certificates, ...
            db.session.rollback()
            return _fail(503 if exc.status >= 500 else exc.status, exc.message)
        except ValueError as exc:  # not JSON after all
            db.session.rollback()
            return _fail(400, f"unreadable: {exc}")
        if outcome in ("unknown", "mismatch"):
            log.warning("WeChat Pay notification for an order we cannot pay: %s", outcome)
            return _fail(400, f"order {outcome}")
        return None
