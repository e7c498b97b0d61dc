"""Paid membership end to end: over real HTTP, the live server and the sandbox WeChat Pay."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import wechatpayv3
from sqlalchemy import func, select

from app import clock
from app.models.membership import Membership, MembershipOrder
from app.models.messaging import OutboxMessage
from tests.concurrency import fire

# 2026-03-10 10:00 in Shanghai
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def _state(session, member_id):
    session.expire_all()
    ms = session.get(Membership, member_id)
    orders = session.execute(
        select(MembershipOrder.status, func.count())
        .where(MembershipOrder.member_id == member_id)
        .group_by(MembershipOrder.status)
    ).all()
    return (ms and (ms.starts_on, ms.ends_on), sorted(orders))


def test_the_library_is_the_pinned_one():
    # app.wechat.pay sets Core._gate_way before the first download: pinned for that reason.
    assert wechatpayv3.__version__ == "2.0.4"
    core = wechatpayv3.core.Core.__init__.__code__
    assert "_init_certificates" in core.co_names


def test_buy_pay_notify_activates_once(shop, make_plan, session):
    clock.freeze(NOW)
    plan = make_plan(months=12)
    me = shop()
    order = me.buy(plan["id"])
    params = order["pay_params"]
    assert params["signType"] == "RSA" and params["package"].startswith("prepay_id=wx")
    assert set(params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert me.membership()["active"] is False

    paid = me.pay(order["order_no"])
    assert paid["notify_status"] == 204
    mine = me.membership()
    assert mine["active"] is True
    assert (mine["starts_on"], mine["ends_on"]) == ("2026-03-10", "2027-03-09")
    assert mine["plan"]["id"] == plan["id"] and mine["benefits"]["multiplier"] == 1.5

    before = _state(session, me.member.id)
    # The same notification again (WeChat Pay's retry): 204, nothing changes.
    again = me.notify(paid["notification"]["headers"], paid["notification"]["body"])
    assert again.status_code == 204
    assert _state(session, me.member.id) == before
    # One renewal message queued, once.
    assert (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.purpose == "membership_renewed")
        )
        == 1
    )


def test_forged_stale_or_unknown_serial_notifications_change_nothing(shop, make_plan, session):
    clock.freeze(NOW)
    me = shop()
    order = me.buy(make_plan()["id"])
    sent = me.pay(order["order_no"], notify=False)["notification"]
    headers, body = sent["headers"], sent["body"]

    tampered = json.loads(body)
    tampered["event_type"] = "TRANSACTION.SUCCESS "
    bad = [
        ({**headers, "Wechatpay-Signature": base64.b64encode(b"x" * 256).decode()}, body),
        (headers, json.dumps(tampered)),
        ({**headers, "Wechatpay-Serial": "ABCDEF0123456789"}, body),
        ({**headers, "Wechatpay-Serial": "not-hex"}, body),
        ({k: v for k, v in headers.items() if k != "Wechatpay-Signature"}, body),
    ]
    for h, b in bad:
        response = me.notify(h, b)
        assert response.status_code == 401, (h, response.text)
        assert response.json()["code"] == "FAIL"
    # A genuine notification replayed 6 minutes later: stale.
    clock.freeze(datetime.fromtimestamp(int(headers["Wechatpay-Timestamp"]) + 360, UTC))
    stale = me.notify(headers, body)
    assert stale.status_code == 401 and stale.json()["code"] == "FAIL"
    assert me.membership()["active"] is False
    assert _state(session, me.member.id)[1] == [("pending", 1)]
    # The genuine one in time is applied.
    clock.freeze(NOW)
    assert me.notify(headers, body).status_code == 204
    assert me.membership()["active"] is True


def test_concurrent_notifications_apply_once(shop, make_plan, session):
    clock.freeze(NOW)
    me = shop()
    order = me.buy(make_plan(months=1)["id"])
    sent = me.pay(order["order_no"], notify=False)["notification"]
    url = f"{shop.base}/wechat/pay/notify"
    calls = [
        lambda s: s.post(
            url,
            data=sent["body"].encode(),
            headers={**sent["headers"], "Content-Type": "application/json"},
            timeout=15,
        )
        for _ in range(8)
    ]
    assert {r.status_code for r in fire(calls, clients=8)} == {204}
    assert me.membership()["ends_on"] == "2026-04-09"
    assert _state(session, me.member.id)[1] == [("paid", 1)]


def test_extension_of_an_active_membership(shop, make_plan):
    clock.freeze(NOW)
    me = shop()
    plan = make_plan(months=1)
    me.pay(me.buy(plan["id"])["order_no"])
    assert me.membership()["ends_on"] == "2026-04-09"
    clock.freeze(datetime(2026, 3, 20, 2, 0, tzinfo=UTC))
    me.pay(me.buy(plan["id"])["order_no"])
    mine = me.membership()
    assert (mine["starts_on"], mine["ends_on"]) == ("2026-03-10", "2026-05-09")


def test_a_dropped_notification_is_settled_by_the_job(shop, make_plan, session):
    from app.services.membership import membership_jobs

    clock.freeze(NOW)
    me = shop()
    order = me.buy(make_plan(months=3)["id"])
    me.pay(order["order_no"], notify=False)
    unpaid = me.buy(make_plan(months=1, name="月卡")["id"])
    assert me.membership()["active"] is False
    later = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # an hour later: the unpaid one expired
    clock.freeze(later)
    counts = membership_jobs.settle_orders(session, later)
    assert counts["paid"] == 1 and counts["closed"] == 1
    assert me.membership()["ends_on"] == "2026-06-09"
    session.expire_all()
    closed = session.execute(
        select(MembershipOrder.status).where(MembershipOrder.order_no == unpaid["order_no"])
    ).scalar_one()
    assert closed == "closed"
    assert membership_jobs.settle_orders(session, later)["checked"] == 0


def test_refund_of_an_unpaid_order_is_refused(shop, make_plan, client, admin):
    clock.freeze(NOW)
    me = shop()
    order = me.buy(make_plan()["id"])
    response = client.post(
        f"/staff/v1/memberships/{order['order_no']}/refund", json={"reason": "x"}, headers=admin
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "membership.not_refundable"
    missing = client.post("/staff/v1/memberships/M404/refund", json={"reason": "x"}, headers=admin)
    assert missing.status_code == 404


def test_orders_honour_idempotency_keys(shop, make_plan, session):
    clock.freeze(NOW)
    me = shop()
    plan = make_plan()
    first = me.buy(plan["id"], **{"Idempotency-Key": "buy-1"})
    second = me.buy(plan["id"], **{"Idempotency-Key": "buy-1"})
    assert first == second
    assert _state(session, me.member.id)[1] == [("pending", 1)]


def test_garbage_and_wrong_amounts_are_refused_never_500(shop, make_plan, session):
    from app.wechat import sandbox_pay

    clock.freeze(NOW)
    me = shop()
    order = me.buy(make_plan(price_fen=12000)["id"])
    for headers, body in (({}, ""), ({}, "not json"), ({"Wechatpay-Timestamp": "x"}, "{}")):
        response = me.notify(headers, body)
        assert response.status_code == 401 and response.json()["code"] == "FAIL"
    # Signed by the platform, but for another amount than the order's: not paid.
    forged = sandbox_pay.notification_for(
        {
            "out_trade_no": order["order_no"],
            "trade_state": "SUCCESS",
            "transaction_id": "4200000000000000000000000001",
            "amount": {"total": 1, "currency": "CNY"},
        }
    )
    response = me.notify(forged["headers"], forged["body"])
    assert response.status_code == 400 and response.json()["code"] == "FAIL"
    assert me.membership()["active"] is False
    assert _state(session, me.member.id)[1] == [("pending", 1)]


def test_wechat_pay_is_all_or_nothing_in_production():
    import pytest

    from app.config import ConfigError, load_settings

    env = {
        "SECRET_KEY": "x" * 32,
        "DATABASE_URL": "postgresql://db/huiyuan",
        "WECHAT_MINIAPP_APPID": "wx1",
        "WECHAT_MINIAPP_SECRET": "s",
        "DATA_ENCRYPTION_KEY": base64.urlsafe_b64encode(b"k" * 32).decode(),
        "PHONE_HASH_KEY": "h" * 32,
        "WECHAT_PAY_MCHID": "1900000001",
    }
    with pytest.raises(ConfigError, match="WECHAT_PAY_API_V3_KEY"):
        load_settings(env)
    assert load_settings({k: v for k, v in env.items() if k != "WECHAT_PAY_MCHID"})
