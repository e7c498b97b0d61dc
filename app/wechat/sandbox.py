"""The built-in WeChat sandbox (SANDBOX=1 only): WeChat's server API as this project uses it.

Login codes `test:<name>` give a stable openid and unionid (reusable, unlike WeChat's single-use
codes, so a curl session can sign the same shopper in again); getPhoneNumber codes are
`test-phone:<11 digits>`. Sent messages are kept in Redis and listed at /messages. Tests inject
failures with POST /faults and read call counts at /stats.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from datetime import datetime

import marshmallow as ma
from flask import Blueprint, current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint as ApiBlueprint

from app import clock
from app.errors import AppError
from app.extensions import get_redis, rkey
from app.wechat import sandbox_refunds  # noqa: F401  (its routes register on pay_bp)
from app.wechat.png import pattern_png
from app.wechat.sandbox_pay import pay_bp

wechat_bp = Blueprint("sandbox_wechat", __name__, url_prefix="/_sandbox/wechat")
docs_bp = ApiBlueprint(
    "sandbox", __name__, url_prefix="/_sandbox", description="Sandbox (SANDBOX=1 only)"
)

SCENE_CHARS = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")
TOKEN_TTL = 7200


def register_sandbox(app, api) -> None:
    app.register_blueprint(wechat_bp)
    app.register_blueprint(pay_bp)
    api.register_blueprint(docs_bp)


# ---- helpers ---------------------------------------------------------------------------------


def _digest(kind: str, value: str, length: int = 27) -> str:
    mac = hmac.new(current_app.config["SECRET_KEY"].encode(), f"{kind}:{value}".encode(), "sha256")
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")[:length]


def openid_for(name: str) -> str:
    return "o" + _digest("openid", name)


def oa_openid_for(name: str) -> str:
    return "oa" + _digest("oa-openid", name, 26)


def unionid_for(name: str) -> str:
    return "u" + _digest("unionid", name)


def _body() -> dict:
    """WeChat reads the raw body as JSON whatever the Content-Type (wechatpy sends none)."""
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(errcode: int, errmsg: str):
    return jsonify({"errcode": errcode, "errmsg": errmsg})


def _count(api: str) -> None:
    get_redis().hincrby(rkey("sandbox", "stats"), api, 1)


def _fault(api: str, touser: str | None = None):
    """Consume one injected fault for this API (optionally only for one recipient)."""
    client = get_redis()
    key = rkey("sandbox", "faults", api)
    for raw in client.lrange(key, 0, -1):
        fault = json.loads(raw)
        if fault.get("touser") and fault["touser"] != touser:
            continue
        client.lrem(key, 1, raw)
        if fault.get("times", 1) > 1:
            fault["times"] -= 1
            client.lpush(key, json.dumps(fault))
        if fault.get("delay"):
            time.sleep(float(fault["delay"]))
        if fault.get("body") is not None:
            return jsonify(fault["body"])
        if fault.get("errcode") is not None:
            return _error(int(fault["errcode"]), fault.get("errmsg", "injected by the sandbox"))
        return None
    return None


def _check_app(appid: str | None, secret: str | None):
    cfg = current_app.config
    known = {
        cfg["WECHAT_MINIAPP_APPID"]: cfg["WECHAT_MINIAPP_SECRET"],
        cfg["WECHAT_OA_APPID"]: cfg["WECHAT_OA_SECRET"],
    }
    if appid not in known:
        return _error(40013, "invalid appid")
    if not hmac.compare_digest(
        (known[appid] or "").encode(), (secret or "").encode("utf-8", "replace")
    ):
        return _error(40125, "invalid appsecret")
    return None


def _issue_token(appid: str) -> dict:
    token = "sbx_" + secrets.token_urlsafe(24)
    get_redis().set(rkey("sandbox", "token", token), appid, ex=TOKEN_TTL)
    return {"access_token": token, "expires_in": TOKEN_TTL}


def _token_error():
    token = request.args.get("access_token", "")
    if not token or not get_redis().get(rkey("sandbox", "token", token)):
        return _error(40001, "invalid credential, access_token is invalid or not latest")
    return None


def _guard(api: str, touser: str | None = None):
    _count(api)
    return _fault(api, touser) or _token_error()


def _log_message(kind: str, body: dict) -> None:
    entry = {"api": kind, "at": clock.now().isoformat(), **body}
    get_redis().rpush(rkey("sandbox", "messages"), json.dumps(entry, ensure_ascii=False))


# ---- WeChat's endpoints ----------------------------------------------------------------------


@wechat_bp.get("/sns/jscode2session")
def jscode2session():
    _count("jscode2session")
    args = request.args
    failure = _fault("jscode2session") or _check_app(args.get("appid"), args.get("secret"))
    if failure:
        return failure
    code = args.get("js_code", "")
    if not code.startswith("test:") or len(code) <= 5:
        return _error(40029, "invalid code")
    name = code[5:]
    return jsonify(
        {
            "openid": openid_for(name),
            "session_key": base64.b64encode(hashlib.sha256(name.encode()).digest()[:16]).decode(),
            "unionid": unionid_for(name),
        }
    )


@wechat_bp.get("/cgi-bin/token")
def classic_token():
    _count("token")
    failure = _fault("token") or _check_app(request.args.get("appid"), request.args.get("secret"))
    return failure or jsonify(_issue_token(request.args["appid"]))


@wechat_bp.post("/cgi-bin/stable_token")
def stable_token():
    _count("stable_token")
    body = _body()
    failure = _fault("stable_token") or _check_app(body.get("appid"), body.get("secret"))
    if failure:
        return failure
    client = get_redis()
    key = rkey("sandbox", "stable", body["appid"])
    current = client.get(key)
    if current and not body.get("force_refresh"):
        ttl = client.ttl(rkey("sandbox", "token", current))
        if ttl and ttl > 0:
            return jsonify({"access_token": current, "expires_in": ttl})
    issued = _issue_token(body["appid"])
    client.set(key, issued["access_token"], ex=TOKEN_TTL)
    return jsonify(issued)


@wechat_bp.post("/wxa/business/getuserphonenumber")
def phone_number():
    failure = _guard("getuserphonenumber")
    if failure:
        return failure
    code = (_body()).get("code", "")
    match = re.fullmatch(r"test-phone:(\d{11})", code)
    if not match:
        return _error(40029, "invalid code")
    phone = match.group(1)
    return jsonify(
        {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": phone,
                "purePhoneNumber": phone,
                "countryCode": "86",
                "watermark": {
                    "timestamp": int(time.time()),
                    "appid": current_app.config["WECHAT_MINIAPP_APPID"],
                },
            },
        }
    )


@wechat_bp.post("/cgi-bin/message/subscribe/send")
def subscribe_send():
    body = _body()
    failure = _guard("subscribe_send", body.get("touser"))
    if failure:
        return failure
    if (
        not body.get("touser")
        or not body.get("template_id")
        or not isinstance(body.get("data"), dict)
    ):
        return _error(47001, "data format error")
    _log_message("subscribe_send", body)
    return jsonify({"errcode": 0, "errmsg": "ok"})


@wechat_bp.post("/cgi-bin/message/template/send")
def template_send():
    body = _body()
    failure = _guard("template_send", body.get("touser"))
    if failure:
        return failure
    if not body.get("touser") or not body.get("template_id"):
        return _error(47001, "data format error")
    client = get_redis()
    msg_id = body.get("client_msg_id")
    if msg_id:
        # WeChat: the same client_msg_id within 10 minutes is a no-op returning the first msgid.
        first = client.get(rkey("sandbox", "client_msg", msg_id))
        if first:
            return jsonify({"errcode": 0, "errmsg": "ok", "msgid": int(first)})
    msgid = int(client.incr(rkey("sandbox", "msgid"))) + 1_000_000
    if msg_id:
        client.set(rkey("sandbox", "client_msg", msg_id), msgid, ex=600)
    _log_message("template_send", {**body, "msgid": msgid})
    return jsonify({"errcode": 0, "errmsg": "ok", "msgid": msgid})


@wechat_bp.post("/wxa/getwxacodeunlimit")
def wxa_code_unlimited():
    failure = _guard("getwxacodeunlimit")
    if failure:
        return failure
    body = _body()
    scene = body.get("scene", "")
    page = body.get("page") or "pages/index/index"
    if not isinstance(scene, str) or not SCENE_CHARS.match(scene):
        return _error(40169, "invalid length for scene, or the data is not json string")
    if page.startswith("/") or "?" in page:
        return _error(41030, "invalid page")
    png = pattern_png(f"{page}|{scene}")
    return current_app.response_class(png, mimetype="image/png")


@wechat_bp.post("/cgi-bin/qrcode/create")
def qrcode_create():
    """Parametric QR codes of the official account; the ticket names its scene (kept in Redis so
    that /showqrcode draws the code of that scene, and tests can see what was asked for)."""
    failure = _guard("qrcode_create")
    if failure:
        return failure
    body = _body()
    scene = ((body.get("action_info") or {}).get("scene")) or {}
    if body.get("action_name") not in (
        "QR_SCENE",
        "QR_STR_SCENE",
        "QR_LIMIT_SCENE",
        "QR_LIMIT_STR_SCENE",
    ):
        return _error(40053, "invalid action_name")
    value = scene.get("scene_str") if "STR" in body["action_name"] else scene.get("scene_id")
    if value is None or not 1 <= len(str(value)) <= 64:
        return _error(40097, "invalid args: scene")
    ticket = "gQ" + secrets.token_urlsafe(30)
    get_redis().set(rkey("sandbox", "qr_ticket", ticket), str(value))
    answer: dict = {"ticket": ticket, "url": f"http://weixin.qq.com/q/{ticket[2:24]}"}
    if "LIMIT" not in body["action_name"]:
        answer["expire_seconds"] = int(body.get("expire_seconds") or 60)
    return jsonify(answer)


@wechat_bp.get("/cgi-bin/showqrcode")
def showqrcode():
    """The image of a ticket's QR code (mp.weixin.qq.com in WeChat; no access token): 404 for
    a ticket WeChat never gave."""
    _count("showqrcode")
    failure = _fault("showqrcode")
    if failure:
        return failure
    scene = get_redis().get(rkey("sandbox", "qr_ticket", request.args.get("ticket", "")))
    if scene is None:
        return current_app.response_class(b"", status=404)
    return current_app.response_class(pattern_png(f"oa|{scene}"), mimetype="image/png")


@wechat_bp.get("/qr-scene")
def qr_scene():
    """Sandbox helper: the scene a ticket was created for (what a follower's scan carries)."""
    scene = get_redis().get(rkey("sandbox", "qr_ticket", request.args.get("ticket", "")))
    return jsonify({"scene": scene})


@wechat_bp.get("/cgi-bin/user/info")
def user_info():
    failure = _guard("user_info")
    if failure:
        return failure
    openid = request.args.get("openid", "")
    name = get_redis().get(rkey("sandbox", "oa_name", openid))
    if name is None:
        return jsonify({"subscribe": 0, "openid": openid})
    return jsonify({"subscribe": 1, "openid": openid, "unionid": unionid_for(name)})


@wechat_bp.get("/oa-openid")
def oa_openid():
    """Sandbox helper: the official-account openid of a test user (and remember it)."""
    name = request.args.get("name", "")
    openid = oa_openid_for(name)
    get_redis().set(rkey("sandbox", "oa_name", openid), name)
    return jsonify({"openid": openid, "unionid": unionid_for(name)})


@wechat_bp.post("/faults")
def add_fault():
    body = _body()
    if not body.get("api"):
        raise AppError("request.invalid", message="Name the api.", details={"api": ["Required."]})
    get_redis().rpush(rkey("sandbox", "faults", body["api"]), json.dumps(body))
    return jsonify({"ok": True}), 201


@wechat_bp.delete("/faults")
def clear_faults():
    client = get_redis()
    keys = list(client.scan_iter(match=rkey("sandbox", "faults", "*")))
    if keys:
        client.delete(*keys)
    return jsonify({"ok": True})


@wechat_bp.get("/stats")
def stats():
    raw = get_redis().hgetall(rkey("sandbox", "stats"))
    return jsonify({k: int(v) for k, v in raw.items()})


# ---- documented sandbox endpoints -----------------------------------------------------------


class SentMessageSchema(ma.Schema):
    api = ma.fields.String(required=True)
    at = ma.fields.String(required=True)
    touser = ma.fields.String()
    template_id = ma.fields.String()
    data = ma.fields.Dict()
    page = ma.fields.String()
    msgid = ma.fields.Integer()
    client_msg_id = ma.fields.String()
    miniprogram = ma.fields.Dict()
    url = ma.fields.String()


class MessagesSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SentMessageSchema, unknown=ma.INCLUDE))


class ClockSchema(ma.Schema):
    now = ma.fields.AwareDateTime(required=True, metadata={"example": "2026-12-31T23:59:00+08:00"})


class ClockStateSchema(ClockSchema):
    offset_seconds = ma.fields.Float(
        metadata={"description": "How far the test clock is ahead of real time (negative: behind)."}
    )
    business_date = ma.fields.Date(metadata={"description": "The business day it is now."})


def _clock_state() -> dict:
    instant = clock.now()
    return {
        "now": instant,
        "offset_seconds": clock.sandbox_offset(),
        "business_date": clock.business_date(instant),
    }


@docs_bp.route("/wechat/messages")
class SentMessages(MethodView):
    @docs_bp.response(200, MessagesSchema)
    def get(self):
        """What the sandbox WeChat was asked to send, oldest first."""
        raw = get_redis().lrange(rkey("sandbox", "messages"), 0, -1)
        return {"items": [json.loads(item) for item in raw]}

    @docs_bp.response(204)
    def delete(self):
        """Forget the sent messages."""
        get_redis().delete(rkey("sandbox", "messages"))


@docs_bp.route("/clock")
class SandboxClock(MethodView):
    @docs_bp.response(200, ClockStateSchema)
    def get(self):
        """The test clock of the deployment: the instant, its offset and the business day."""
        return _clock_state()

    @docs_bp.arguments(ClockSchema)
    @docs_bp.response(200, ClockStateSchema)
    def put(self, body):
        """Set the test clock for every process of the deployment (it then runs on).

        Once this has answered, the next request to any worker, the scheduler's next wake-up
        and a `jobs run-once` started from another shell all see the new time.
        """
        instant: datetime = body["now"]
        clock.set_sandbox_now(instant)
        return _clock_state()

    @docs_bp.response(200, ClockStateSchema)
    def delete(self):
        """Return to real time."""
        clock.set_sandbox_now(None)
        return _clock_state()
