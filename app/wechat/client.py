"""The WeChat API, through wechatpy, pointed at WECHAT_API_BASE (the sandbox in tests).

Clients are made with auto_retry=False: on a token error we refresh once and retry once here,
never recursively. Tokens come from app.wechat.tokens (shared, locked refresh).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import requests
from flask import current_app
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from app.errors import AppError
from app.metrics import WECHAT_ERRORS
from app.wechat import tokens

log = logging.getLogger("huiyuan.wechat")
TOKEN_ERRORS = {40001, 40014, 42001}
TIMEOUT = 5
API_BASE = "https://api.weixin.qq.com"
MP_BASE = "https://mp.weixin.qq.com"
IMAGE_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


class WeChatAPIError(Exception):
    def __init__(self, errcode: int, errmsg: str, api: str = "") -> None:
        super().__init__(f"{api}: {errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.api = api


class WeChatUnavailable(Exception):
    """WeChat did not answer (network error, timeout, 5xx)."""


class _Client(WeChatClient):
    """wechatpy's client with the token in Redis and every URL under WECHAT_API_BASE."""

    def __init__(self, appid: str, secret: str, base: str, timeout: float = TIMEOUT) -> None:
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        # Connections kept alive for every thread that sends at once (a dispatcher has
        # DISPATCH_WORKERS x DISPATCH_IN_FLIGHT; requests' default keeps 10 and reconnects).
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        self.base = base.rstrip("/")
        self.API_BASE_URL = self.base + "/cgi-bin/"
        # The API groups carry absolute base URLs of their own; point them here too.
        self.wxa.API_BASE_URL = self.base + "/"
        for group in ("message", "user"):
            getattr(self, group).API_BASE_URL = self.API_BASE_URL

    @property
    def access_token(self) -> str:  # type: ignore[override]
        return tokens.get_token(self.appid, self._fetch_stable_token)

    def fetch_access_token(self):  # wechatpy calls this; ours goes to WECHAT_API_BASE
        return self._fetch_stable_token()

    def _fetch_stable_token(self) -> tuple[str, int]:
        result = self._http.post(
            self.base + "/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": False,
            },
            timeout=self.timeout,
        )
        result.raise_for_status()
        body = result.json()
        if body.get("errcode"):
            raise WeChatClientException(body["errcode"], body.get("errmsg", ""), client=self)
        return body["access_token"], int(body.get("expires_in", 7200))


def _client(kind: str, timeout: float | None = None) -> _Client:
    cfg = current_app.config
    base = cfg["WECHAT_API_BASE"]
    appid, secret = (
        (cfg["WECHAT_MINIAPP_APPID"], cfg["WECHAT_MINIAPP_SECRET"])
        if kind == "miniapp"
        else (cfg["WECHAT_OA_APPID"], cfg["WECHAT_OA_SECRET"])
    )
    cache = current_app.extensions.setdefault("huiyuan_wechat_clients", {})
    timeout = float(timeout or cfg.get("WECHAT_TIMEOUT", TIMEOUT))
    key = (kind, base, appid, timeout)
    if key not in cache:
        cache[key] = _Client(appid, secret, base, timeout)
    return cache[key]


def miniapp_appid() -> str:
    """The mini-program an official-account message opens."""
    return current_app.config["WECHAT_MINIAPP_APPID"]


def _call(kind: str, api: str, fn: Callable[[_Client], Any], timeout: float | None = None) -> Any:
    """Run one API call; on a token error drop that token, refresh once and retry once."""
    client = _client(kind, timeout)
    for attempt in (1, 2):
        try:
            return fn(client)
        except WeChatClientException as exc:
            errcode = exc.errcode
            if errcode is None:  # HTTP error status from WeChat
                WECHAT_ERRORS.labels(api, "http").inc()
                raise WeChatUnavailable(f"{api}: HTTP error") from exc
            WECHAT_ERRORS.labels(api, str(errcode)).inc()
            if errcode in TOKEN_ERRORS and attempt == 1:
                cached = tokens.cached_token(client.appid)
                if cached:
                    tokens.drop_token(client.appid, cached)
                log.info("wechat token refused (%s) on %s; refreshing once", errcode, api)
                continue
            raise WeChatAPIError(int(errcode), str(exc.errmsg), api) from exc
        except (requests.RequestException, tokens.TokenUnavailable) as exc:
            WECHAT_ERRORS.labels(api, "network").inc()
            raise WeChatUnavailable(f"{api}: {type(exc).__name__}") from exc
    raise AssertionError("unreachable")


def code_to_session(js_code: str) -> dict:
    """Exchange a wx.login code for {openid, session_key, unionid?}; no access token needed."""

    def call(client: _Client) -> dict:
        # access_token=None keeps wechatpy from fetching a token this call does not need.
        return client._request(
            "GET",
            client.base + "/sns/jscode2session",
            params={
                "appid": client.appid,
                "secret": client.secret,
                "js_code": js_code,
                "grant_type": "authorization_code",
                "access_token": None,
            },
        )

    return _call("miniapp", "jscode2session", call)


def get_phone_number(code: str) -> dict:
    """The phone_info for a getPhoneNumber code (billed by WeChat: call once per code)."""
    result = _call("miniapp", "getuserphonenumber", lambda c: c.wxa.get_phone_number(code))
    info = result.get("phone_info") or {}
    watermark = info.get("watermark") or {}
    if watermark.get("appid") != current_app.config["WECHAT_MINIAPP_APPID"]:
        raise WeChatAPIError(-2, "phone number watermark is for another app", "getuserphonenumber")
    return info


def get_wxa_code_unlimited(scene: str, page: str, width: int = 430) -> bytes:
    def call(client: _Client) -> bytes:
        res = client.wxa.get_wxa_code_unlimited(scene, width=width, page=page)
        if isinstance(res, dict):  # an error body that happened to have errcode 0
            raise WeChatAPIError(int(res.get("errcode", -1)), str(res), "getwxacodeunlimit")
        return res.content

    return _call("miniapp", "getwxacodeunlimit", call)


def create_oa_qrcode(scene_str: str) -> dict:
    """A permanent official-account QR code (QR_LIMIT_STR_SCENE) for `scene_str` (64 characters
    at most): {ticket, url}. WeChat allows 100,000 permanent codes: keep the ticket."""
    body = {
        "action_name": "QR_LIMIT_STR_SCENE",
        "action_info": {"scene": {"scene_str": scene_str}},
    }
    result = _call("oa", "qrcode_create", lambda c: c.qrcode.create(body))
    if not result.get("ticket"):
        raise WeChatAPIError(-2, "qrcode/create answered no ticket", "qrcode_create")
    return {"ticket": result["ticket"], "url": result.get("url") or ""}


def _mp_base() -> str:
    """Where showqrcode lives: mp.weixin.qq.com, not the API host (wechatpy hard-codes it); the
    sandbox, when WECHAT_API_BASE points there, serves both. WECHAT_MP_BASE overrides."""
    cfg = current_app.config
    base = cfg["WECHAT_API_BASE"]
    if cfg.get("WECHAT_MP_BASE"):
        return cfg["WECHAT_MP_BASE"].rstrip("/")
    return MP_BASE if base.rstrip("/") == API_BASE else base.rstrip("/")


def show_oa_qrcode(ticket: str) -> tuple[bytes, str]:
    """The image of an official-account QR code by its ticket, and its type (no access token
    needed). WeChat's own showqrcode answers a JPEG; the sandbox a PNG."""
    client = _client("oa")
    try:
        result = client._http.get(
            _mp_base() + "/cgi-bin/showqrcode", params={"ticket": ticket}, timeout=client.timeout
        )
    except requests.RequestException as exc:
        WECHAT_ERRORS.labels("showqrcode", "network").inc()
        raise WeChatUnavailable(f"showqrcode: {type(exc).__name__}") from exc
    if result.status_code >= 500:
        WECHAT_ERRORS.labels("showqrcode", "http").inc()
        raise WeChatUnavailable("showqrcode: HTTP error")
    kind = next((k for sig, k in IMAGE_SIGNATURES if result.content.startswith(sig)), None)
    if result.status_code != 200 or kind is None:
        # WeChat answers an unknown ticket with 404 and no image.
        WECHAT_ERRORS.labels("showqrcode", str(result.status_code)).inc()
        raise WeChatAPIError(-2, f"no QR code image (HTTP {result.status_code})", "showqrcode")
    return result.content, kind


def send_subscribe_message(
    openid: str, template_id: str, data: dict, page: str | None = None
) -> dict:
    body: dict = {
        "touser": openid,
        "template_id": template_id,
        "data": data,
        "miniprogram_state": "formal",
        "lang": "zh_CN",
    }
    if page:
        body["page"] = page
    return _call(
        "miniapp",
        "subscribe_send",
        lambda c: c.wxa._post("cgi-bin/message/subscribe/send", data=body),
    )


def send_template_message(
    openid: str,
    template_id: str,
    data: dict,
    *,
    client_msg_id: str,
    url: str | None = None,
    miniprogram: dict | None = None,
) -> dict:
    body: dict = {
        "touser": openid,
        "template_id": template_id,
        "data": data,
        "client_msg_id": client_msg_id,
    }
    if url:
        body["url"] = url
    if miniprogram:
        body["miniprogram"] = miniprogram
    return _call("oa", "template_send", lambda c: c.post("message/template/send", data=body))


def oa_user_info(openid: str, timeout: float | None = None) -> dict:
    return _call(
        "oa",
        "user_info",
        lambda c: c.get("user/info", params={"openid": openid, "lang": "zh_CN"}),
        timeout,
    )


def as_app_error(exc: Exception) -> AppError:
    """The contract's answer for a WeChat failure: a clear 4xx or 502, never a 500."""
    if isinstance(exc, WeChatAPIError):
        if exc.errcode == 40029:
            message = "The WeChat code is invalid or already used; call wx.login again."
            return AppError("wechat.invalid_code", message=message)
        if exc.errcode == 45011:
            message = "WeChat is rate-limiting this user."
            return AppError("rate.limited", message=message, headers={"Retry-After": "60"})
        if exc.errcode == 40226:
            return AppError("wechat.user_blocked")
        if exc.errcode == -1:
            return AppError("wechat.unavailable", message="WeChat is busy; try again.")
        return AppError(
            "wechat.error",
            message="WeChat refused the request.",
            details={"errcode": exc.errcode, "api": exc.api},
        )
    return AppError("wechat.unavailable")
