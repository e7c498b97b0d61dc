"""The official account's callback, /wechat/oa: URL check, messages and events, plain and safe mode.

The signature is checked first (403 otherwise), in constant time; then its freshness: a timestamp
more than 5 minutes off app.clock is refused, and a (timestamp, nonce) pair is good for one
request only (a repeat of that same request, as WeChat's retry would be, goes on to the dedupe
below; anything else under that pair is a replay, 403). When an AES key is configured only safe
mode is accepted: plain mode signs no body, so one captured signature could carry any event.
WeChat reads only a 200's body: a refusal is the contract's 403. WeChat gives up after 5 seconds
and retries three times: each message is handled once (by MsgId, events by sender + CreateTime),
and a retry gets the first answer again. Nothing here waits on WeChat for more than 2 seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

import marshmallow as ma
import xmltodict
from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.replies import TextReply

from app import clock
from app.errors import AppError
from app.extensions import db, get_redis, rkey
from app.services.members import oa_followers
from app.wechat import client as wechat

log = logging.getLogger("huiyuan.wechat.oa")
blp = Blueprint("wechat_oa", __name__, url_prefix="/wechat", description="WeChat official account")
SEEN_SECONDS = 600  # longer than WeChat's three retries
MAX_SKEW_SECONDS = 300  # a signed timestamp this far off app.clock is refused
# A (timestamp, nonce) pair is remembered while its timestamp can still pass: up to 300 s ahead
# of the clock when first seen, and accepted until 300 s after it.
NONCE_SECONDS = 2 * MAX_SKEW_SECONDS
PENDING = "\x00pending"
USER_INFO_TIMEOUT = 2.0


class CallbackArgs(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    signature = ma.fields.String(load_default="")
    timestamp = ma.fields.String(load_default="")
    nonce = ma.fields.String(load_default="")
    echostr = ma.fields.String(load_default="")
    encrypt_type = ma.fields.String(load_default="")
    msg_signature = ma.fields.String(load_default="")
    openid = ma.fields.String(load_default="")


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _forbidden() -> AppError:
    return AppError("wechat.bad_signature")


def _check(expected: str, given: str) -> None:
    # Bytes: compare_digest refuses non-ASCII str (a 500), and anyone can send any signature.
    if not given or not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise _forbidden()


def _check_fresh(args: dict, content: bytes) -> None:
    """Refuse a stale timestamp, and a (timestamp, nonce) already used for other content.

    Call only once the signature holds, so that a forger cannot use up WeChat's nonces. The
    first request under a pair stores a digest of what it carried; the same content again is a
    retry (answered by the dedupe, never handled twice), other content is a replay.
    """
    timestamp = args["timestamp"]
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise _forbidden()
    if abs(clock.now().timestamp() - int(timestamp)) > MAX_SKEW_SECONDS:
        raise AppError("wechat.bad_signature", message="The WeChat timestamp is stale.")
    pair = hashlib.sha1(f"{timestamp}\n{args['nonce']}".encode("utf-8", "replace")).hexdigest()
    digest = hashlib.sha1(request.method.encode() + b"\n" + content).hexdigest()
    client = get_redis()
    key = rkey("wechat", "oa_nonce", pair)
    if client.set(key, digest, nx=True, ex=NONCE_SECONDS):
        return
    if client.get(key) != digest:
        raise AppError("wechat.bad_signature", message="This WeChat nonce was already used.")


def _aes_keys() -> list[str]:
    cfg = current_app.config
    # The previous key is kept for the moments after a rotation in the WeChat console.
    return [k for k in (cfg.get("WECHAT_OA_AES_KEY"), cfg.get("WECHAT_OA_AES_KEY_PREVIOUS")) if k]


def _decrypt(body: bytes, args: dict) -> tuple[str, str]:
    """The plain XML of a safe-mode POST and the AES key that opened it (403 if forged)."""

    try:
        encrypt = xmltodict.parse(body)["xml"]["Encrypt"]
    except Exception as exc:  # noqa: BLE001 - any unreadable envelope is a forgery to us
        raise _forbidden() from exc
    token = current_app.config["WECHAT_OA_TOKEN"]
    _check(_sha1(token, args["timestamp"], args["nonce"], encrypt), args["msg_signature"])
    appid = current_app.config["WECHAT_OA_APPID"]
    for key in _aes_keys():
        crypto = WeChatCrypto(token, key, appid)
        try:
            return PrpCrypto(crypto.key).decrypt(encrypt, appid), key
        except (InvalidAppIdException, ValueError, UnicodeDecodeError):
            continue
    raise _forbidden()


def _dedupe_key(message) -> str:
    if getattr(message, "id", 0):
        return f"msg:{message.id}"
    return f"evt:{message.source}:{message.time}"


def _handle(message) -> str:
    """The reply XML for one message or event ('' when there is nothing to say)."""
    session = db.session
    now = clock.now()
    kind = message.type
    if kind == "event":
        event = message.event
        if event in ("subscribe", "subscribe_scan"):
            scene = getattr(message, "scene_id", None)
            oa_followers.followed(session, message.source, scene, now)
            _link(message.source)
        elif event == "unsubscribe":
            oa_followers.unfollowed(session, message.source, now)
        elif event == "scan":
            oa_followers.scanned(session, message.source, message.scene_id, now)
        elif event == "templatesendjobfinish":
            oa_followers.template_delivery(session, message.id, message.status or "")
        return ""
    if kind == "text" and "积分" in (message.content or ""):
        text = oa_followers.points_reply(session, message.source, clock.business_date(now))
        return TextReply(message=message, content=text).render()
    return ""


def _link(openid: str) -> None:
    """Fetch the follower's unionid (briefly: the dispatch job retries what fails here)."""
    try:
        info = wechat.oa_user_info(openid, timeout=USER_INFO_TIMEOUT)
    except (wechat.WeChatAPIError, wechat.WeChatUnavailable) as exc:
        log.info("unionid of a new follower not fetched yet: %s", exc)
        return
    oa_followers.set_unionid(db.session, openid, info.get("unionid"))


def _answer(reply: str, args: dict, aes_key: str | None) -> Response:
    if not reply:
        return Response("success", mimetype="text/plain")
    if aes_key:
        cfg = current_app.config
        crypto = WeChatCrypto(cfg["WECHAT_OA_TOKEN"], aes_key, cfg["WECHAT_OA_APPID"])
        reply = crypto.encrypt_message(reply, args["nonce"] or "nonce", args["timestamp"] or None)
    return Response(reply, mimetype="application/xml")


@blp.route("/oa")
class OfficialAccountCallback(MethodView):
    @blp.arguments(CallbackArgs, location="query")
    @blp.response(200, description="echostr, as text")
    def get(self, args):
        """WeChat's URL check: answers `echostr` when the signature is WeChat's."""
        token = current_app.config["WECHAT_OA_TOKEN"]
        # Plain even in safe mode: the official account's URL check signs no message.
        _check(_sha1(token, args["timestamp"], args["nonce"]), args["signature"])
        _check_fresh(args, args["echostr"].encode("utf-8", "replace"))
        return Response(args["echostr"], mimetype="text/plain")

    @blp.arguments(CallbackArgs, location="query")
    @blp.response(200, description="a reply as XML, or `success`")
    def post(self, args):
        """Messages and events, plain or safe (AES) mode; a retry of one already handled is
        answered as before without handling it again."""
        token = current_app.config["WECHAT_OA_TOKEN"]
        body = request.get_data()
        aes_key = None
        if args["encrypt_type"] == "aes":
            if args["signature"]:
                _check(_sha1(token, args["timestamp"], args["nonce"]), args["signature"])
            xml, aes_key = _decrypt(body, args)
        else:
            _check(_sha1(token, args["timestamp"], args["nonce"]), args["signature"])
            if current_app.config.get("WECHAT_OA_AES_KEY"):
                raise AppError("wechat.bad_signature", message="Safe mode is required.")
            xml = body.decode("utf-8", "replace")
        _check_fresh(args, body)
        try:
            message = parse_message(xml)
        except Exception as exc:  # noqa: BLE001 - signed but unreadable: nothing to do with it
            log.warning("unreadable official-account message: %s", type(exc).__name__)
            return Response("success", mimetype="text/plain")
        if message is None:
            return Response("success", mimetype="text/plain")
        client = get_redis()
        seen = rkey("wechat", "oa_seen", _dedupe_key(message))
        if not client.set(seen, PENDING, nx=True, ex=SEEN_SECONDS):
            earlier = client.get(seen)
            return _answer("" if earlier in (None, PENDING) else earlier, args, aes_key)
        try:
            reply = _handle(message)
        except Exception:
            client.delete(seen)  # let WeChat's retry try again
            db.session.rollback()
            log.exception("official-account message not handled")
            return Response("", status=503, mimetype="text/plain")
        client.set(seen, reply, ex=SEEN_SECONDS)
        return _answer(reply, args, aes_key)
