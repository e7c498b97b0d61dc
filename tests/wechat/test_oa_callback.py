"""The official account's callback /wechat/oa, with WeChat's own sample vectors (WECHAT.md)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime

import pytest
import requests
import xmltodict
from sqlalchemy import select
from wechatpy.crypto import WeChatCrypto

from app import clock
from app.models.messaging import OaFollower

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DECRYPT_SAMPLE = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F"
    "8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332j"
    "isa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavj"
    "IQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6Oewpusj"
    "Z4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


def _sig(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


@pytest.fixture
def oa(app, client, monkeypatch):
    """Post to /wechat/oa as WeChat would: safe mode (the AES key is set), a fresh timestamp
    by app.clock and a fresh nonce for every post unless given."""
    monkeypatch.setitem(app.config, "WECHAT_OA_TOKEN", "pamtest")
    monkeypatch.setitem(app.config, "WECHAT_OA_APPID", "wxb11529c136998cb6")
    monkeypatch.setitem(app.config, "WECHAT_OA_AES_KEY", AES_KEY)

    class OA:
        token = "pamtest"

        def query(self, xml: str, safe=None, timestamp=None, nonce=None):
            """(query, body) of one callback as WeChat signs it (safe mode when a key is set)."""
            if safe is None:
                safe = bool(app.config["WECHAT_OA_AES_KEY"])
            timestamp = timestamp or str(int(clock.now().timestamp()))
            nonce = nonce or str(secrets.randbelow(10**10))
            query = {"timestamp": timestamp, "nonce": nonce}
            query["signature"] = _sig(self.token, timestamp, nonce)
            body = xml
            if safe:
                crypto = WeChatCrypto(self.token, AES_KEY, app.config["WECHAT_OA_APPID"])
                envelope = xmltodict.parse(crypto.encrypt_message(xml, nonce, timestamp))["xml"]
                encrypt = envelope["Encrypt"]
                body = (
                    "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>"
                    f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
                )
                query.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
            return query, body

        def post(self, xml: str, safe=None, timestamp=None, nonce=None):
            query, body = self.query(xml, safe, timestamp, nonce)
            return client.post("/wechat/oa", query_string=query, data=body.encode())

        def decrypt(self, response) -> str:
            crypto = WeChatCrypto(self.token, AES_KEY, app.config["WECHAT_OA_APPID"])
            envelope = xmltodict.parse(response.get_data(as_text=True))["xml"]
            return crypto.decrypt_message(
                response.get_data(as_text=True),
                envelope["MsgSignature"],
                envelope["TimeStamp"],
                envelope["Nonce"],
            )

    return OA()


@pytest.fixture
def oa_plain(app, oa, monkeypatch):
    """The official account in plain mode: no AES key configured."""
    monkeypatch.setitem(app.config, "WECHAT_OA_AES_KEY", "")
    monkeypatch.setitem(app.config, "WECHAT_OA_AES_KEY_PREVIOUS", "")
    return oa


def _event(user: str, event: str, at: int, key: str = "") -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[{user}]]>"
        f"</FromUserName><CreateTime>{at}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


def _text(user: str, content: str, msg_id: int, at: int = 1700000000) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[{user}]]>"
        f"</FromUserName><CreateTime>{at}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def test_url_check_with_wechats_sample_signature(app, client, oa):
    clock.freeze(datetime.fromtimestamp(1409304348 + 60, UTC))  # the vector's own time
    query = {
        "signature": "76480565cbe296026c53aaacd1ad523a1ddba24f",
        "timestamp": "1409304348",
        "nonce": "xxxxxx",
        "echostr": "hello-echo",
    }
    answer = client.get("/wechat/oa", query_string=query)
    assert (answer.status_code, answer.get_data(as_text=True)) == (200, "hello-echo")
    forged = client.get("/wechat/oa", query_string={**query, "signature": "0" * 40})
    assert forged.status_code == 403
    assert client.get("/wechat/oa").status_code == 403


def test_safe_mode_accepts_wechats_decrypt_sample_and_refuses_forgeries(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_OA_TOKEN", "spamtest")
    monkeypatch.setitem(app.config, "WECHAT_OA_APPID", "wx2c2769f8efd9abc2")
    monkeypatch.setitem(app.config, "WECHAT_OA_AES_KEY", AES_KEY)
    clock.freeze(datetime.fromtimestamp(1409735669 - 60, UTC))  # the vector's own time
    body = (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
        f"<Encrypt><![CDATA[{DECRYPT_SAMPLE}]]></Encrypt></xml>"
    )
    query = {
        "timestamp": "1409735669",
        "nonce": "1320562132",
        "encrypt_type": "aes",
        "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
    }
    answer = client.post("/wechat/oa", query_string=query, data=body)
    assert (answer.status_code, answer.get_data(as_text=True)) == (200, "success")
    bad = {**query, "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fb"}
    assert client.post("/wechat/oa", query_string=bad, data=body).status_code == 403
    # Right signature, wrong app: refused.
    monkeypatch.setitem(app.config, "WECHAT_OA_APPID", "wxOTHER")
    assert client.post("/wechat/oa", query_string=query, data=body).status_code == 403
    # A rotated key: the previous one still opens messages signed before the rotation.
    monkeypatch.setitem(app.config, "WECHAT_OA_APPID", "wx2c2769f8efd9abc2")
    monkeypatch.setitem(app.config, "WECHAT_OA_AES_KEY", "Z" * 43)
    monkeypatch.setitem(app.config, "WECHAT_OA_AES_KEY_PREVIOUS", AES_KEY)
    retried = client.post("/wechat/oa", query_string=query, data=body)
    assert retried.status_code == 200


def test_plain_posts_need_the_signature(oa_plain, client):
    answer = client.post(
        "/wechat/oa",
        query_string={"timestamp": "1", "nonce": "n", "signature": "f" * 40},
        data=_event("u1", "subscribe", 1),
    )
    assert answer.status_code == 403


def test_subscribe_from_a_store_code_attributes_and_links_by_unionid(
    app, session, oa_plain, make_store, live_server
):
    oa = oa_plain
    store = make_store(code="SH01")
    who = requests.get(
        live_server + "/_sandbox/wechat/oa-openid", params={"name": "alice"}, timeout=5
    ).json()
    assert (
        oa.post(_event(who["openid"], "subscribe", 100, f"qrscene_store_{store.id}")).status_code
        == 200
    )
    follower = session.get(OaFollower, who["openid"])
    assert (follower.following, follower.store_id, follower.unionid) == (
        True,
        store.id,
        who["unionid"],
    )
    # A SCAN of another store's code later does not move the attribution.
    other = make_store(code="SH02")
    oa.post(_event(who["openid"], "SCAN", 101, f"store_{other.id}"))
    oa.post(_event(who["openid"], "unsubscribe", 102))
    session.expire_all()
    follower = session.get(OaFollower, who["openid"])
    assert (follower.following, follower.store_id) == (False, store.id)
    # WeChat retries the subscribe (same sender and CreateTime): not handled again.
    oa.post(_event(who["openid"], "subscribe", 100, f"qrscene_store_{store.id}"))
    session.expire_all()
    assert session.get(OaFollower, who["openid"]).following is False
    # A scan-to-follow by a store code (not an id) works too.
    oa.post(_event("oa-bob", "subscribe", 103, "qrscene_SH02"))
    assert (
        session.execute(
            select(OaFollower.store_id).where(OaFollower.openid == "oa-bob")
        ).scalar_one()
        == other.id
    )


def test_points_keyword_answers_in_safe_mode_once_per_message(
    app, session, oa, make_member, grant, live_server
):
    who = requests.get(
        live_server + "/_sandbox/wechat/oa-openid", params={"name": "carol"}, timeout=5
    ).json()
    member = make_member(unionid=who["unionid"])
    grant(member, 120, expires_on=date(2026, 12, 31), now=datetime(2026, 1, 1, tzinfo=UTC))
    grant(member, 30, expires_on=date(2027, 12, 31), now=datetime(2026, 1, 1, tzinfo=UTC))
    clock.freeze(datetime(2026, 12, 20, 4, 0, tzinfo=UTC))
    assert oa.post(_event(who["openid"], "subscribe", 200), safe=True).status_code == 200
    answer = oa.post(_text(who["openid"], "查积分", 9001), safe=True)
    assert answer.status_code == 200
    reply = xmltodict.parse(oa.decrypt(answer))["xml"]
    assert reply["ToUserName"] == who["openid"]
    assert "150" in reply["Content"] and "12月31日将过期：120积分" in reply["Content"]
    # WeChat's retry of the same MsgId gets the same answer, without handling it again.
    again = oa.post(_text(who["openid"], "查积分", 9001), safe=True)
    assert xmltodict.parse(oa.decrypt(again))["xml"]["Content"] == reply["Content"]
    # Someone not linked to a member is told how to link.
    stranger = oa.post(_text("oa-stranger", "积分", 9002))
    assert "小程序" in xmltodict.parse(oa.decrypt(stranger))["xml"]["Content"]
    # Anything else: "success".
    assert oa.post(_text(who["openid"], "你好", 9003)).get_data(as_text=True) == "success"


def _follower(session, openid: str):
    session.expire_all()
    return session.get(OaFollower, openid)


def test_a_captured_triple_cannot_carry_another_event(app, client, session, oa_plain):
    """Plain mode signs only token, timestamp and nonce: a captured triple is used once."""
    query, body = oa_plain.query(_event("oa-dora", "subscribe", 300))
    assert client.post("/wechat/oa", query_string=query, data=body).status_code == 200
    assert _follower(session, "oa-dora").following is True
    forged = client.post(
        "/wechat/oa", query_string=query, data=_event("oa-dora", "unsubscribe", 301)
    )
    assert forged.status_code == 403
    assert forged.get_json()["error"]["code"] == "wechat.bad_signature"
    assert _follower(session, "oa-dora").following is True
    # The very same request again (as WeChat's retry would be) changes nothing either.
    assert client.post("/wechat/oa", query_string=query, data=body).status_code == 200
    assert _follower(session, "oa-dora").following is True
    # The URL check's triple is used once too: it cannot echo another string.
    check, _ = oa_plain.query("")
    check = {k: check[k] for k in ("timestamp", "nonce", "signature")}
    first = client.get("/wechat/oa", query_string={**check, "echostr": "e1"})
    assert (first.status_code, first.get_data(as_text=True)) == (200, "e1")
    assert client.get("/wechat/oa", query_string={**check, "echostr": "e1"}).status_code == 200
    assert client.get("/wechat/oa", query_string={**check, "echostr": "e2"}).status_code == 403


def test_a_stale_or_future_timestamp_is_refused(app, client, session, oa):
    now = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    clock.freeze(now)
    at = int(now.timestamp())
    for offset in (-301, 301, -86400 * 365):
        answer = oa.post(_event("oa-erin", "subscribe", 400), timestamp=str(at + offset))
        assert answer.status_code == 403, offset
        query, _ = oa.query("", timestamp=str(at + offset))
        query = {k: query[k] for k in ("timestamp", "nonce", "signature")}
        assert client.get("/wechat/oa", query_string={**query, "echostr": "x"}).status_code == 403
    assert _follower(session, "oa-erin") is None
    assert oa.post(_event("oa-erin", "subscribe", 401), timestamp=str(at - 299)).status_code == 200
    assert _follower(session, "oa-erin").following is True
    for junk in ("soon", "1e9", ""):
        query = {"timestamp": junk, "nonce": "n1", "signature": _sig(oa.token, junk, "n1")}
        assert client.get("/wechat/oa", query_string={**query, "echostr": "x"}).status_code == 403


def test_plain_mode_is_refused_while_an_aes_key_is_set(app, client, session, oa):
    answer = oa.post(_event("oa-finn", "subscribe", 500), safe=False)
    assert answer.status_code == 403
    assert answer.get_json()["error"]["code"] == "wechat.bad_signature"
    assert _follower(session, "oa-finn") is None
    # Safe mode works, and the URL check (plain signature, as WeChat sends it) still answers.
    assert oa.post(_event("oa-finn", "subscribe", 501)).status_code == 200
    assert _follower(session, "oa-finn").following is True
    query, _ = oa.query("", safe=False)
    query = {k: query[k] for k in ("timestamp", "nonce", "signature")}
    check = client.get("/wechat/oa", query_string={**query, "echostr": "hi"})
    assert (check.status_code, check.get_data(as_text=True)) == (200, "hi")
