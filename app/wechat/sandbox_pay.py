"""The sandbox's WeChat Pay API v3 (SANDBOX=1 and tests only), under /_sandbox/wechat/pay.

It signs every answer with its own platform key (app.wechat.pay_keys: made once per Redis, with a
self-signed certificate served encrypted at /v3/certificates), verifies the merchant's request
signature (the WECHATPAY2-SHA256-RSA2048 Authorization over METHOD, path, timestamp, nonce and
body) and keeps transactions and refunds in Redis. `POST /pay/<order_no>/pay` plays the shopper
paying: the transaction succeeds and a signed, AES-256-GCM encrypted TRANSACTION.SUCCESS
notification is POSTed to the order's notify_url (unless {"notify": false}, a lost one); the
answer carries the notification sent (headers and body) so a test can replay or tamper with it.
Refunds are app.wechat.sandbox_refunds (on the same blueprint).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import timedelta

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from flask import Blueprint, current_app, jsonify, request

from app import clock
from app.extensions import get_redis, rkey
from app.wechat import pay, pay_keys

pay_bp = Blueprint("sandbox_wechat_pay", __name__, url_prefix="/_sandbox/wechat/pay")
PREFIX = "/_sandbox/wechat/pay"
AUTH = re.compile(r'(\w+)="([^"]*)"')
NOTIFY_TIMEOUT = 5
KEEP_SECONDS = 7 * 86400  # transactions and refunds, in Redis


def sign(message: str) -> str:
    key = load_pem_private_key(pay_keys.sandbox_platform()["private_key"].encode(), None)
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def signed_headers(body: str, timestamp: int | None = None, serial: str | None = None) -> dict:
    """WeChat Pay's signature headers for `body` (a notification's, or an answer's)."""
    stamp = str(int(clock.now().timestamp()) if timestamp is None else timestamp)
    nonce = secrets.token_hex(16)
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign(f"{stamp}\n{nonce}\n{body}\n"),
        "Wechatpay-Serial": serial or pay_keys.sandbox_platform()["serial"],
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def encrypt(plaintext: str, associated_data: str) -> dict:
    nonce = secrets.token_hex(6)  # 12 characters, as WeChat Pay's
    key = pay.merchant()["apiv3_key"].encode()
    cipher = AESGCM(key).encrypt(nonce.encode(), plaintext.encode(), associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(cipher).decode(),
        "nonce": nonce,
        "associated_data": associated_data,
    }


def signed_answer(payload: dict | None, status: int = 200):
    body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
    response = current_app.response_class(body, status=status, mimetype="application/json")
    if status < 300:
        response.headers.update(signed_headers(body, timestamp=int(clock.now().timestamp())))
    return response


def error_answer(status: int, code: str, message: str):
    return signed_answer({"code": code, "message": message}, status)


def merchant_error():
    """None when the request carries the merchant's valid signature."""
    fields = dict(AUTH.findall(request.headers.get("Authorization", "")))
    if not request.headers.get("Authorization", "").startswith("WECHATPAY2-SHA256-RSA2048 "):
        return error_answer(401, "SIGN_ERROR", "no WECHATPAY2-SHA256-RSA2048 Authorization")
    account = pay.merchant()
    if (
        fields.get("mchid") != account["mchid"]
        or fields.get("serial_no") != account["cert_serial_no"]
    ):
        return error_answer(401, "SIGN_ERROR", "unknown merchant or certificate serial")
    path = request.path[len(PREFIX) :]
    if request.query_string:
        path += "?" + request.query_string.decode()
    message = "\n".join(
        [
            request.method,
            path,
            fields.get("timestamp", ""),
            fields.get("nonce_str", ""),
            request.get_data(as_text=True),
        ]
    )
    try:
        pay_keys.merchant_public_key(account["private_key"]).verify(
            base64.b64decode(fields.get("signature", "")),
            (message + "\n").encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return error_answer(401, "SIGN_ERROR", "signature does not verify")
    return None


def load_record(kind: str, number: str) -> dict | None:
    """A transaction ("tx", by out_trade_no) or a refund ("refund", by out_refund_no)."""
    raw = get_redis().get(rkey("sandbox", "pay", kind, number))
    return json.loads(raw) if raw else None


def save_record(kind: str, number: str, record: dict) -> None:
    get_redis().set(rkey("sandbox", "pay", kind, number), json.dumps(record), ex=KEEP_SECONDS)


def load_tx(order_no: str) -> dict | None:
    return load_record("tx", order_no)


def save_tx(tx: dict) -> None:
    save_record("tx", tx["out_trade_no"], tx)


def count_call(api: str) -> None:
    get_redis().hincrby(rkey("sandbox", "stats"), f"pay_{api}", 1)


def _public(tx: dict) -> dict:
    return {k: v for k, v in tx.items() if k not in ("notify_url", "description")}


@pay_bp.get("/v3/certificates")
def certificates():
    count_call("certificates")
    failure = merchant_error()
    if failure:
        return failure
    platform = pay_keys.sandbox_platform()
    now = clock.now()
    return signed_answer(
        {
            "data": [
                {
                    "serial_no": platform["serial"],
                    "effective_time": (now - timedelta(days=1)).isoformat(timespec="seconds"),
                    "expire_time": (now + timedelta(days=3650)).isoformat(timespec="seconds"),
                    "encrypt_certificate": encrypt(platform["certificate"], "certificate"),
                }
            ]
        }
    )


@pay_bp.post("/v3/pay/transactions/jsapi")
def jsapi_prepay():
    count_call("jsapi")
    failure = merchant_error()
    if failure:
        return failure
    body = request.get_json(silent=True) or {}
    order_no = body.get("out_trade_no") or ""
    total = (body.get("amount") or {}).get("total")
    if not re.fullmatch(r"[A-Za-z0-9_\-|*]{6,32}", order_no) or not isinstance(total, int):
        return error_answer(400, "PARAM_ERROR", "out_trade_no or amount.total invalid")
    if not (body.get("payer") or {}).get("openid") or not body.get("notify_url"):
        return error_answer(400, "PARAM_ERROR", "payer.openid and notify_url are required")
    existing = load_tx(order_no)
    if existing is not None:
        if existing["amount"]["total"] != total:
            return error_answer(400, "INVALID_REQUEST", "out_trade_no used with another amount")
        return signed_answer({"prepay_id": existing["prepay_id"]})
    tx = {
        "appid": body.get("appid"),
        "mchid": body.get("mchid"),
        "out_trade_no": order_no,
        "description": body.get("description", ""),
        "notify_url": body["notify_url"],
        "prepay_id": "wx" + secrets.token_hex(15),
        "trade_state": "NOTPAY",
        "trade_type": "JSAPI",
        "amount": {"total": total, "currency": "CNY", "payer_total": total},
        "payer": {"openid": body["payer"]["openid"]},
    }
    save_tx(tx)
    return signed_answer({"prepay_id": tx["prepay_id"]})


@pay_bp.get("/v3/pay/transactions/out-trade-no/<order_no>")
def query(order_no):
    count_call("query")
    failure = merchant_error()
    if failure:
        return failure
    tx = load_tx(order_no)
    if tx is None:
        return error_answer(404, "ORDER_NOT_EXIST", "no such order")
    return signed_answer(_public(tx))


@pay_bp.post("/v3/pay/transactions/out-trade-no/<order_no>/close")
def close(order_no):
    count_call("close")
    failure = merchant_error()
    if failure:
        return failure
    tx = load_tx(order_no)
    if tx is None:
        return error_answer(404, "ORDER_NOT_EXIST", "no such order")
    if tx["trade_state"] == "SUCCESS":
        return error_answer(400, "ORDERPAID", "the order is paid")
    tx["trade_state"] = "CLOSED"
    save_tx(tx)
    return signed_answer(None, 204)


def notification_for(tx: dict) -> dict:
    """The TRANSACTION.SUCCESS notification of a paid transaction: body and signed headers."""
    return notification("TRANSACTION.SUCCESS", "支付成功", "transaction", _public(tx))


def notification(event_type: str, summary: str, original_type: str, resource: dict) -> dict:
    """A WeChat Pay notification of `event_type`: its resource AES-256-GCM encrypted with the
    merchant's API v3 key, the body signed by the platform key; body and headers."""
    plaintext = json.dumps(resource, ensure_ascii=False)
    body = json.dumps(
        {
            "id": secrets.token_hex(16),
            "create_time": clock.now().isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {**encrypt(plaintext, original_type), "original_type": original_type},
        },
        ensure_ascii=False,
    )
    return {"headers": signed_headers(body), "body": body}


def send_notification(url: str, sent: dict) -> int | None:
    """POST a notification as WeChat Pay does; the status answered (None: no answer)."""
    try:
        return requests.post(
            url,
            data=sent["body"].encode(),
            headers={**sent["headers"], "Content-Type": "application/json"},
            timeout=NOTIFY_TIMEOUT,
        ).status_code
    except requests.RequestException:
        return None


@pay_bp.post("/<order_no>/pay")
def shopper_pays(order_no):
    """Sandbox helper: the shopper pays the order; the notification goes to its notify_url
    (body {"notify": false}: it is lost). The answer includes the notification sent."""
    tx = load_tx(order_no)
    if tx is None:
        return jsonify({"code": "ORDER_NOT_EXIST", "message": "no prepay for this order"}), 404
    if tx["trade_state"] == "NOTPAY":
        tx.update(
            trade_state="SUCCESS",
            trade_state_desc="支付成功",
            transaction_id="42" + secrets.token_hex(13),
            success_time=clock.now().isoformat(timespec="seconds"),
            bank_type="OTHERS",
        )
        save_tx(tx)
    elif tx["trade_state"] != "SUCCESS":
        return jsonify({"code": "ORDER_CLOSED", "message": tx["trade_state"]}), 409
    sent = notification_for(tx)
    status = None
    if (request.get_json(silent=True) or {}).get("notify", True):
        status = send_notification(tx["notify_url"], sent)
    return jsonify(
        {
            "order_no": order_no,
            "transaction_id": tx["transaction_id"],
            "notify_status": status,
            "notification": sent,
        }
    )
