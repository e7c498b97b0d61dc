"""The sandbox's WeChat Pay v3 refunds (SANDBOX=1 and tests only), on the pay blueprint.

As WeChat Pay does: a refund is one `out_refund_no` however often it is asked for; it is answered
`PROCESSING`, and a little later (REFUND_AFTER_SECONDS, or the app's
SANDBOX_PAY_REFUND_SECONDS) it succeeds and a signed, encrypted REFUND.SUCCESS notification is
POSTed once to the refund's notify_url (the one the request named, else the order's).
`GET /v3/refund/domestic/refunds/<out_refund_no>` answers its status; the helper
`GET /_sandbox/wechat/pay/refunds` lists every refund with the notification sent, so a test can
replay it.
"""

from __future__ import annotations

import json
import secrets
import threading

from flask import current_app, jsonify, request

from app import clock
from app.extensions import get_redis, rkey
from app.wechat.sandbox_pay import (
    KEEP_SECONDS,
    count_call,
    error_answer,
    load_record,
    load_tx,
    merchant_error,
    notification,
    pay_bp,
    save_record,
    save_tx,
    send_notification,
    signed_answer,
)

REFUND_AFTER_SECONDS = 1.0  # WeChat Pay's refunds to change take seconds; the sandbox's, one
# What the merchant reads of a refund (the notify_url stays the sandbox's).
PRIVATE = ("mchid", "notify_url", "notification", "notify_status")


def _key(refund_no: str) -> str:
    return rkey("sandbox", "pay", "refund", refund_no)


def _load(refund_no: str) -> dict | None:
    return load_record("refund", refund_no)


def _save(made: dict) -> None:
    save_record("refund", made["out_refund_no"], made)


def _public(made: dict) -> dict:
    return {k: v for k, v in made.items() if k not in PRIVATE}


@pay_bp.post("/v3/refund/domestic/refunds")
def refund():
    count_call("refund")
    failure = merchant_error()
    if failure:
        return failure
    body = request.get_json(silent=True) or {}
    tx = load_tx(body.get("out_trade_no") or "")
    amount = body.get("amount") or {}
    refund_no = body.get("out_refund_no") or ""
    if tx is None or tx["trade_state"] not in ("SUCCESS", "REFUND"):
        return error_answer(404, "RESOURCE_NOT_EXISTS", "no paid order")
    if not refund_no or not isinstance(amount.get("refund"), int) or amount["refund"] <= 0:
        return error_answer(400, "PARAM_ERROR", "out_refund_no and amount.refund are required")
    if amount["refund"] > tx["amount"]["total"] or amount.get("total") != tx["amount"]["total"]:
        return error_answer(400, "INVALID_REQUEST", "refund exceeds the order")
    made = {
        "mchid": tx.get("mchid"),
        "refund_id": "50" + secrets.token_hex(14),
        "out_refund_no": refund_no,
        "out_trade_no": tx["out_trade_no"],
        "transaction_id": tx.get("transaction_id"),
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "status": "PROCESSING",
        "amount": {
            "refund": amount["refund"],
            "total": tx["amount"]["total"],
            "payer_total": tx["amount"]["total"],
            "payer_refund": amount["refund"],
            "currency": "CNY",
        },
        "create_time": clock.now().isoformat(timespec="seconds"),
        "notify_url": body.get("notify_url") or tx["notify_url"],
    }
    client = get_redis()
    # WeChat Pay: one out_refund_no is one refund, however often it is asked for.
    if client.set(_key(refund_no), json.dumps(made), nx=True, ex=KEEP_SECONDS):
        client.rpush(rkey("sandbox", "pay", "refunds"), refund_no)
        tx["trade_state"] = "REFUND"
        save_tx(tx)
        _succeed_later(refund_no)
    return signed_answer(_public(_load(refund_no)))


def _succeed_later(refund_no: str) -> None:
    """The refund succeeds in a moment, then its notification is sent, once."""
    app = current_app._get_current_object()
    delay = float(app.config.get("SANDBOX_PAY_REFUND_SECONDS", REFUND_AFTER_SECONDS))

    def succeed() -> None:
        with app.app_context():
            made = _load(refund_no)
            if made is None or made["status"] != "PROCESSING":
                return
            made.update(status="SUCCESS", success_time=clock.now().isoformat(timespec="seconds"))
            resource = {
                "mchid": made["mchid"],
                **{k: made[k] for k in ("out_trade_no", "transaction_id", "refund_id")},
                "out_refund_no": refund_no,
                "refund_status": "SUCCESS",
                "success_time": made["success_time"],
                "user_received_account": made["user_received_account"],
                "amount": made["amount"],
            }
            made["notification"] = notification("REFUND.SUCCESS", "退款成功", "refund", resource)
            _save(made)
            made["notify_status"] = send_notification(made["notify_url"], made["notification"])
            _save(made)

    timer = threading.Timer(delay, succeed)
    timer.daemon = True
    timer.start()


@pay_bp.get("/v3/refund/domestic/refunds/<refund_no>")
def query_refund(refund_no):
    count_call("refund_query")
    failure = merchant_error()
    if failure:
        return failure
    made = _load(refund_no)
    if made is None:
        return error_answer(404, "RESOURCE_NOT_EXISTS", "no such refund")
    return signed_answer(_public(made))


@pay_bp.get("/refunds")
def refunds_made():
    """Sandbox helper: every refund made, oldest first, with the notification sent (headers and
    body) and what the notify_url answered (null: not yet sent, or no answer)."""
    numbers = get_redis().lrange(rkey("sandbox", "pay", "refunds"), 0, -1)
    items = [_load(n.decode() if isinstance(n, bytes) else n) for n in numbers]
    return jsonify(
        {
            "items": [
                {
                    **_public(made),
                    "notification": made.get("notification"),
                    "notify_status": made.get("notify_status"),
                }
                for made in items
                if made is not None
            ]
        }
    )
