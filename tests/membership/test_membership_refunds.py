"""Refunds of paid membership orders over real HTTP, against the sandbox's WeChat Pay v3: it
answers PROCESSING and sends a signed, encrypted REFUND.SUCCESS notification once, later."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import select

from app import clock
from app.models.membership import MembershipOrder
from app.services.membership import membership_jobs
from tests.concurrency import fire

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 2026-03-10 10:00 in Shanghai
LATER = datetime(2026, 5, 15, 2, 0, tzinfo=UTC)  # March, April and May begun


@pytest.fixture
def quick_refunds(app, monkeypatch):
    # The sandbox's refunds succeed after this many seconds (its default is 1).
    monkeypatch.setitem(app.config, "SANDBOX_PAY_REFUND_SECONDS", 0.5)


def _order(session, order_no):
    session.expire_all()
    return session.execute(
        select(MembershipOrder).where(MembershipOrder.order_no == order_no)
    ).scalar_one()


def _refunds_made(base) -> list[dict]:
    return requests.get(f"{base}/_sandbox/wechat/pay/refunds", timeout=5).json()["items"]


def _wait_for(predicate, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("not within the time")


def _paid_order(shop, make_plan) -> tuple:
    clock.freeze(NOW)
    me = shop()
    order = me.buy(make_plan(months=12, price_fen=12000)["id"])
    me.pay(order["order_no"])
    clock.freeze(LATER)
    return me, order["order_no"]


def test_a_refund_is_processing_then_notified_once_and_applied_once(
    shop, make_plan, live_server, admin, session, app, monkeypatch
):
    # Slow enough that every tap below is answered before WeChat Pay is done.
    monkeypatch.setitem(app.config, "SANDBOX_PAY_REFUND_SECONDS", 2)
    me, order_no = _paid_order(shop, make_plan)
    url = f"{live_server}/staff/v1/memberships/{order_no}/refund"
    calls = [
        lambda s: s.post(url, json={"reason": "moving away"}, headers=admin, timeout=15)
        for _ in range(6)
    ]
    answers = fire(calls, clients=6)
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
    # 9 whole months unused of 12 (12000 fen): 9000 fen; WeChat Pay is still at it.
    assert {json.dumps(r.json(), sort_keys=True) for r in answers} == {
        json.dumps(
            {
                "order_no": order_no,
                "refund_no": "R" + order_no,
                "refund_fen": 9000,
                "refund_months": 9,
                "status": "refunding",
                "refund_status": "PROCESSING",
            },
            sort_keys=True,
        )
    }
    assert me.membership()["active"] is False  # the membership ends at once

    # Then WeChat Pay's REFUND.SUCCESS arrives, once, and the order is refunded.
    made = _wait_for(lambda: [r for r in _refunds_made(live_server) if r["notify_status"]])
    assert [(r["out_trade_no"], r["amount"]["refund"], r["status"]) for r in made] == [
        (order_no, 9000, "SUCCESS")
    ]
    assert made[0]["notify_status"] == 204
    assert json.loads(made[0]["notification"]["body"])["event_type"] == "REFUND.SUCCESS"
    order = _order(session, order_no)
    assert (order.status, order.refund_status) == ("refunded", "SUCCESS")
    again = requests.post(url, json={"reason": "moving away"}, headers=admin, timeout=15)
    assert again.json()["status"] == "refunded" and again.json()["refund_fen"] == 9000

    # WeChat Pay repeats notifications: the same one, four times at once, changes nothing.
    sent = made[0]["notification"]
    replays = fire(
        [
            lambda s: s.post(
                f"{live_server}/wechat/pay/notify",
                data=sent["body"].encode(),
                headers={**sent["headers"], "Content-Type": "application/json"},
                timeout=15,
            )
            for _ in range(4)
        ],
        clients=4,
    )
    assert {r.status_code for r in replays} == {204}
    order = _order(session, order_no)
    assert (order.status, order.refund_status, order.refund_fen) == ("refunded", "SUCCESS", 9000)
    assert len(_refunds_made(live_server)) == 1  # one refund at WeChat Pay, never two


def test_a_forged_refund_notification_changes_nothing(
    shop, make_plan, live_server, admin, session, app, monkeypatch
):
    from app.wechat import sandbox_pay

    monkeypatch.setitem(app.config, "SANDBOX_PAY_REFUND_SECONDS", 30)  # never, in this test
    _, order_no = _paid_order(shop, make_plan)
    url = f"{live_server}/staff/v1/memberships/{order_no}/refund"
    assert requests.post(url, json={"reason": "x"}, headers=admin, timeout=15).status_code == 200
    genuine = sandbox_pay.notification(
        "REFUND.SUCCESS",
        "退款成功",
        "refund",
        {"out_refund_no": "R" + order_no, "out_trade_no": order_no, "refund_status": "SUCCESS"},
    )
    tampered = genuine["body"].replace("REFUND.SUCCESS", "REFUND.SUCCESS ")
    response = requests.post(
        f"{live_server}/wechat/pay/notify",
        data=tampered.encode(),
        headers={**genuine["headers"], "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 401 and response.json()["code"] == "FAIL"
    assert _order(session, order_no).status == "refunding"


def test_a_lost_refund_notification_is_settled_by_the_job(
    shop, make_plan, live_server, admin, session, app, monkeypatch, quick_refunds
):
    me, order_no = _paid_order(shop, make_plan)
    # WeChat Pay cannot reach us for this refund's notification (nothing listens on port 9).
    monkeypatch.setitem(app.config, "WECHAT_PAY_NOTIFY_URL", "http://127.0.0.1:9/wechat/pay/notify")
    url = f"{live_server}/staff/v1/memberships/{order_no}/refund"
    answer = requests.post(url, json={"reason": "x"}, headers=admin, timeout=15).json()
    assert (answer["status"], answer["refund_status"]) == ("refunding", "PROCESSING")
    made = _wait_for(lambda: [r for r in _refunds_made(live_server) if r["status"] == "SUCCESS"])
    time.sleep(0.3)  # the notification's attempt
    assert _refunds_made(live_server)[0]["notify_status"] is None
    assert made and _order(session, order_no).status == "refunding"

    counts = membership_jobs.settle_orders(session, LATER)
    assert counts["refunds"] == 1 and counts["errors"] == 0
    order = _order(session, order_no)
    assert (order.status, order.refund_status) == ("refunded", "SUCCESS")
    assert membership_jobs.settle_orders(session, LATER)["checked"] == 0
    assert len(_refunds_made(live_server)) == 1
