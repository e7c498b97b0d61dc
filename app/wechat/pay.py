"""WeChat Pay API v3 through wechatpayv3 (pinned 2.0.4), pointed at WECHAT_PAY_API_BASE.

Why the library and not our own signing on `cryptography`: it signs requests, verifies answers
and notifications against the platform certificates it downloads (and refreshes on an unknown
serial) and decrypts AES-GCM resources, which is all of WeChat Pay's protocol we need. Its one
obstacle is the gateway: a fixed attribute (`Core._gate_way`) that the constructor already uses to
download the certificates. So `_Core` sets the gateway before that first download, and
`_WeChatPay` builds its `_core` from it (the four attributes WeChatPay's own __init__ sets;
tests/membership/test_pay_client.py fails if the pinned version or those names move).

What wechatpayv3 does not do, done here: the freshness of a notification's timestamp (5 minutes),
a lock around verification (an unknown serial makes it clear and refetch its certificate list,
which another thread may be reading), a clean "refused" for every malformed header, and lazy
construction (its constructor calls WeChat Pay: a process starts without it).

Sandbox and tests: when WECHAT_PAY_PRIVATE_KEY is empty (only allowed there) the merchant is the
sandbox's (app.wechat.pay_keys): a key pair made once per Redis and shared by every process.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from typing import Any

import requests
from flask import current_app, has_request_context, request
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.core import Core

from app import clock
from app.errors import AppError
from app.wechat import pay_keys

log = logging.getLogger("huiyuan.wechat.pay")
TIMEOUT = (3, 5)
MAX_SKEW_SECONDS = 300  # a notification signed more than 5 minutes off app.clock is refused
NOTIFY_PATH = "/wechat/pay/notify"


class PayRefused(Exception):
    """A notification that is not WeChat Pay's (signature, serial, timestamp, decryption)."""


class _Core(Core):
    def __init__(self, *, gateway: str, **kwargs) -> None:
        self._gateway = gateway
        super().__init__(**kwargs)

    def _init_certificates(self) -> None:
        self._gate_way = self._gateway  # before the library's first download
        super()._init_certificates()


class _WeChatPay(WeChatPay):
    """WeChatPay whose core talks to `gateway`."""

    def __init__(self, *, gateway: str, appid: str, mchid: str, notify_url: str | None, **core):
        self._type = WeChatPayType.MINIPROG
        self._mchid = mchid
        self._appid = appid
        self._notify_url = notify_url
        self._partner_mode = False
        self._core = _Core(gateway=gateway, mchid=mchid, timeout=TIMEOUT, **core)


_clients: dict[tuple, _WeChatPay] = {}
_clients_lock = threading.Lock()
_verify_lock = threading.Lock()


def merchant() -> dict:
    """The merchant's settings: the configured ones, else the sandbox merchant's."""
    cfg = current_app.config
    if cfg.get("WECHAT_PAY_PRIVATE_KEY"):
        return {
            "mchid": cfg["WECHAT_PAY_MCHID"],
            "apiv3_key": cfg["WECHAT_PAY_API_V3_KEY"],
            "cert_serial_no": cfg["WECHAT_PAY_CERT_SERIAL"],
            "private_key": cfg["WECHAT_PAY_PRIVATE_KEY"],
        }
    if not (cfg.get("SANDBOX") or cfg.get("TESTING")):
        raise AppError("service.unavailable", message="WeChat Pay is not configured.")
    return pay_keys.sandbox_merchant()


def api_base() -> str:
    cfg = current_app.config
    base = cfg.get("WECHAT_PAY_API_BASE") or "https://api.mch.weixin.qq.com"
    if cfg.get("SANDBOX") and not cfg.get("WECHAT_PAY_PRIVATE_KEY"):
        # The sandbox merchant pays at the sandbox: beside the fake WeChat API.
        return cfg["WECHAT_API_BASE"].rstrip("/") + "/pay"
    return base.rstrip("/")


def notify_url() -> str | None:
    configured = current_app.config.get("WECHAT_PAY_NOTIFY_URL")
    if configured:
        return configured
    if has_request_context():  # sandbox and tests: this server
        return request.host_url.rstrip("/") + NOTIFY_PATH
    return None


def client() -> _WeChatPay:
    """The process's client for the current settings (made on first use: it downloads the
    platform certificates). WeChat Pay down: 502 wechat.unavailable."""
    account = merchant()
    key = (api_base(), account["mchid"], account["cert_serial_no"], account["apiv3_key"])
    found = _clients.get(key)
    if found is not None:
        return found
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            try:
                found = _WeChatPay(
                    gateway=key[0],
                    appid=current_app.config["WECHAT_MINIAPP_APPID"],
                    notify_url=None,
                    **account,
                )
            except Exception as exc:  # noqa: BLE001 - the library raises bare Exceptions
                log.warning("WeChat Pay client not made: %s", exc)
                raise AppError("wechat.unavailable", message="WeChat Pay did not answer.") from exc
            _clients[key] = found
    return found


def _call(what: str, fn, *args, **kwargs) -> dict:
    try:
        code, body = fn(*args, **kwargs)
    except requests.RequestException as exc:
        raise AppError(
            "wechat.unavailable", message=f"WeChat Pay did not answer ({what})."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - e.g. "failed to verify the signature"
        raise AppError("wechat.error", message=f"WeChat Pay {what}: {exc}") from exc
    if code >= 500:
        raise AppError("wechat.unavailable", message=f"WeChat Pay did not answer ({what}).")
    try:
        answer = json.loads(body) if body else {}
    except (TypeError, ValueError):
        answer = {}
    if code >= 400:
        answer = {"error": True, "status": code, **answer}
    return answer


def prepay(order_no: str, description: str, total_fen: int, openid: str, expire_at) -> dict:
    """A JSAPI prepay; then what wx.requestPayment takes, signed with the merchant key."""
    pay = client()
    answer = _call(
        "prepay",
        pay.pay,
        description=description,
        out_trade_no=order_no,
        amount={"total": total_fen, "currency": "CNY"},
        payer={"openid": openid},
        time_expire=expire_at.isoformat(timespec="seconds"),
        notify_url=notify_url() or "https://invalid.example/wechat/pay/notify",
    )
    if answer.get("error") or not answer.get("prepay_id"):
        raise AppError("wechat.error", message=f"WeChat Pay refused the prepay: {answer}")
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(16)
    package = f"prepay_id={answer['prepay_id']}"
    appid = current_app.config["WECHAT_MINIAPP_APPID"]
    return {
        "prepay_id": answer["prepay_id"],
        "pay_params": {
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": pay.sign([appid, timestamp, nonce, package]),
        },
    }


def query(order_no: str) -> dict:
    """The transaction of an order: {trade_state, transaction_id, amount, ...}; {} if unknown."""
    answer = _call("query", client().query, out_trade_no=order_no)
    return {} if answer.get("error") else answer


def close(order_no: str) -> bool:
    answer = _call("close", client().close, out_trade_no=order_no)
    return not answer.get("error")


def refund(order_no: str, refund_no: str, refund_fen: int, total_fen: int, reason: str) -> dict:
    """A refund (WeChat Pay dedupes by out_refund_no: a retry is the same refund)."""
    answer = _call(
        "refund",
        client().refund,
        out_refund_no=refund_no,
        out_trade_no=order_no,
        amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"},
        reason=reason[:80] or None,
        # Where WeChat Pay sends REFUND.SUCCESS (or .ABNORMAL, .CLOSED) once it is done; from a
        # job (no request) the merchant's configured one.
        notify_url=notify_url(),
    )
    if answer.get("error"):
        raise AppError("wechat.error", message=f"WeChat Pay refused the refund: {answer}")
    return answer


def query_refund(refund_no: str) -> dict:
    """A refund's state: {status: SUCCESS|PROCESSING|ABNORMAL|CLOSED, ...}; {} if unknown."""
    answer = _call("refund query", client().query_refund, out_refund_no=refund_no)
    return {} if answer.get("error") else answer


def read_notification(headers: dict[str, str], body: bytes) -> dict:
    """The notification verified (signature by the platform certificate of its serial, fresh
    timestamp) and decrypted: the whole notification with `resource` in clear. PayRefused
    otherwise."""
    try:
        stamp = int(headers.get("Wechatpay-Timestamp", ""))
    except ValueError as exc:
        raise PayRefused("no timestamp") from exc
    if abs(clock.now().timestamp() - stamp) > MAX_SKEW_SECONDS:
        raise PayRefused("stale timestamp")
    serial = headers.get("Wechatpay-Serial", "")
    if not serial or any(c not in "0123456789abcdefABCDEF" for c in serial):
        raise PayRefused("unknown serial")
    pay = client()
    try:
        with _verify_lock:
            result: Any = pay.callback(headers, body)
    except requests.RequestException as exc:
        raise PayRefused("certificates unavailable") from exc
    except Exception as exc:  # noqa: BLE001 - the library's bare Exceptions (algorithm, ...)
        raise PayRefused(str(exc)) from exc
    if not result or not isinstance(result.get("resource"), dict):
        raise PayRefused("signature or decryption failed")
    return result
