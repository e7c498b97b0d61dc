"""The WeChat wiring against the sandbox WeChat over real HTTP."""

from __future__ import annotations

import threading

import pytest

from app.wechat import client as wx


def test_code_to_session_gives_stable_ids_per_test_user(app, sandbox):
    first = wx.code_to_session("test:alice")
    again = wx.code_to_session("test:alice")
    other = wx.code_to_session("test:bob")
    assert first["openid"] == again["openid"] != other["openid"]
    assert first["unionid"] and first["session_key"]
    # jscode2session needs no access token.
    assert "stable_token" not in sandbox.stats()


def test_invalid_login_code_is_40029_and_maps_to_400(app, sandbox):
    with pytest.raises(wx.WeChatAPIError) as caught:
        wx.code_to_session("garbage")
    assert caught.value.errcode == 40029
    err = wx.as_app_error(caught.value)
    assert (err.status, err.code) == (400, "wechat.invalid_code")


def test_phone_number_is_read_and_watermark_checked(app, sandbox):
    info = wx.get_phone_number("test-phone:13800138000")
    assert info["purePhoneNumber"] == "13800138000"
    foreign = {
        "errcode": 0,
        "phone_info": {"purePhoneNumber": "13800138000", "watermark": {"appid": "wxOTHER"}},
    }
    sandbox.fault("getuserphonenumber", body=foreign)
    with pytest.raises(wx.WeChatAPIError):
        wx.get_phone_number("test-phone:13800138000")


def test_twenty_threads_with_no_cached_token_fetch_it_once(app, sandbox):
    errors: list[Exception] = []
    barrier = threading.Barrier(20)

    def send(i: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                wx.send_subscribe_message(f"openid-{i}", "tmpl-1", {"thing1": {"value": "hi"}})
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats = sandbox.stats()
    assert stats["stable_token"] == 1
    assert stats["subscribe_send"] == 20
    assert len(sandbox.messages()) == 20


def test_one_token_error_refreshes_once_and_retries_once(app, sandbox):
    wx.send_subscribe_message("o1", "tmpl", {"thing1": {"value": "warm"}})  # cache a token
    sandbox.fault("subscribe_send", errcode=40001)
    wx.send_subscribe_message("o2", "tmpl", {"thing1": {"value": "after refresh"}})
    stats = sandbox.stats()
    assert stats["subscribe_send"] == 3
    assert stats["stable_token"] == 2
    assert [m["touser"] for m in sandbox.messages()] == ["o1", "o2"]


def test_a_persistent_token_error_fails_after_one_retry(app, sandbox):
    sandbox.fault("subscribe_send", errcode=40001, times=50)
    with pytest.raises(wx.WeChatAPIError) as caught:
        wx.send_subscribe_message("o1", "tmpl", {"thing1": {"value": "x"}})
    assert caught.value.errcode == 40001
    assert sandbox.stats()["subscribe_send"] == 2
    assert wx.as_app_error(caught.value).status == 502


def test_busy_and_timeouts_map_to_502(app, sandbox, monkeypatch):
    sandbox.fault("jscode2session", errcode=-1)
    with pytest.raises(wx.WeChatAPIError) as busy:
        wx.code_to_session("test:alice")
    assert wx.as_app_error(busy.value).code == "wechat.unavailable"
    monkeypatch.setitem(app.config, "WECHAT_TIMEOUT", 0.3)
    sandbox.fault("jscode2session", delay=1.0)
    with pytest.raises(wx.WeChatUnavailable) as slow:
        wx.code_to_session("test:alice")
    err = wx.as_app_error(slow.value)
    assert (err.status, err.code) == (502, "wechat.unavailable")


def test_template_send_is_deduplicated_by_client_msg_id(app, sandbox):
    data = {"thing1": {"value": "积分即将过期"}}
    first = wx.send_template_message("oa-1", "tmpl-oa", data, client_msg_id="exp:1:2026-12-31")
    again = wx.send_template_message("oa-1", "tmpl-oa", data, client_msg_id="exp:1:2026-12-31")
    assert first["msgid"] == again["msgid"]
    assert len(sandbox.messages()) == 1
    assert sandbox.messages()[0]["client_msg_id"] == "exp:1:2026-12-31"


def test_wxa_code_is_a_png_and_bad_scenes_are_refused(app, sandbox):
    png = wx.get_wxa_code_unlimited("r=ABCD1234", "pages/index/index")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(wx.WeChatAPIError):
        wx.get_wxa_code_unlimited("中文场景", "pages/index/index")
    with pytest.raises(wx.WeChatAPIError) as bad_page:
        wx.get_wxa_code_unlimited("r=1", "/pages/index/index")
    assert bad_page.value.errcode == 41030


def test_sandbox_clock_moves_the_app_clock(app, client):
    from datetime import UTC, datetime

    from app import clock

    response = client.put("/_sandbox/clock", json={"now": "2030-01-01T08:00:00+08:00"})
    assert response.status_code == 200
    assert abs((clock.now() - datetime(2030, 1, 1, tzinfo=UTC)).total_seconds()) < 5
    assert clock.business_today().isoformat() == "2030-01-01"
    client.delete("/_sandbox/clock")
    assert clock.now().year != 2030
    assert client.put("/_sandbox/clock", json={"now": "not a time"}).status_code == 422
