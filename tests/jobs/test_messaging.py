"""Reminders and the dispatcher against the sandbox WeChat over real HTTP: channels, exactly
once, crashes, retries, quiet hours and the marketing cap."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from app import clock
from app.models.messaging import OaFollower, OutboxMessage, SubscriptionQuota
from app.services.messaging import dispatch, reminders, subscriptions
from jobs.schedule import run_job
from tests.conftest import sandbox_process_env

MORNING = datetime(2026, 12, 25, 10, 0, tzinfo=UTC) - timedelta(hours=8)  # 10:00 Beijing
EXPIRES = date(2026, 12, 31)
EARNED = datetime(2026, 1, 5, tzinfo=UTC)


class SimulatedCrash(Exception):
    pass


@pytest.fixture
def sandbox_wx(live_server):
    base = live_server + "/_sandbox/wechat"

    class Sandbox:
        def oa_user(self, name: str) -> dict:
            return requests.get(base + "/oa-openid", params={"name": name}, timeout=5).json()

        def fault(self, api: str, **fault) -> None:
            requests.post(base + "/faults", json={"api": api, **fault}, timeout=5)

        def messages(self) -> list[dict]:
            return requests.get(base + "/messages", timeout=5).json()["items"]

        def stats(self) -> dict:
            return requests.get(base + "/stats", timeout=5).json()

    return Sandbox()


@pytest.fixture
def shopper(session, make_member, grant, sandbox_wx):
    """A member with points expiring on 31 Dec, a subscribe quota and/or following the OA."""

    def make(name: str, quota: int = 0, follows: bool = False, points: int = 40, **fields):
        oa = sandbox_wx.oa_user(name)
        member = make_member(unionid=oa["unionid"], **fields)
        if points:
            grant(member, points, expires_on=EXPIRES, now=EARNED)
        if quota:
            subscriptions.record_result(session, member.id, ["tmpl-points-expiry"] * quota, [])
            subscriptions.record_result(session, member.id, ["tmpl-wakeup"] * quota, [])
        if follows:
            session.add(OaFollower(openid=oa["openid"], unionid=oa["unionid"], following=True))
            session.commit()
        member.oa_openid = oa["openid"]
        return member

    return make


def _outbox(session, **where) -> list[OutboxMessage]:
    session.expire_all()
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    for name, value in where.items():
        query = query.where(getattr(OutboxMessage, name) == value)
    return list(session.execute(query).scalars())


def _dispatch(session, now, worker="w1", **kw):
    clock.freeze(now)
    return dispatch.dispatch_due(session, worker, now_fn=lambda: now, **kw)


def test_reminder_sends_once_per_member_by_the_channel_rule(app, session, shopper, sandbox_wx):
    sub = shopper("sub", quota=1)
    oa = shopper("oa", follows=True)
    both = shopper("both", quota=1, follows=True)
    neither = shopper("neither")
    later = shopper("later", quota=1, points=0)
    from app.services import ledger
    from tests.conftest import ledger_invariants

    ledger.earn(session, later.id, 10, reason="adjustment", ref="x", expires_on=date(2027, 3, 1))
    session.commit()
    assert ledger_invariants(session, later.id) == 10

    clock.freeze(MORNING)
    counts = run_job("points_expiry_reminder", MORNING)
    assert counts == {"members": 4, "queued": 4}
    run_job("messages_dispatch", MORNING)

    sent = sandbox_wx.messages()
    by_user = {m["touser"]: m for m in sent}
    assert len(sent) == 3
    assert by_user[sub.openid]["api"] == "subscribe_send"
    assert by_user[both.openid]["api"] == "subscribe_send"  # a quota wins over following
    assert by_user[oa.oa_openid]["api"] == "template_send"
    assert by_user[oa.oa_openid]["client_msg_id"].startswith("hy-")
    assert by_user[oa.oa_openid]["miniprogram"] == {
        "appid": app.config["WECHAT_MINIAPP_APPID"],
        "pagepath": "pages/points/index",
    }
    assert by_user[sub.openid]["data"] == {
        "number1": {"value": "40"},
        "date2": {"value": "2026年12月31日"},
        "thing3": {"value": "积分即将过期，记得使用"},
    }
    skipped = _outbox(session, member_id=neither.id)[0]
    assert (skipped.state, skipped.reason) == ("skipped", "no_quota_not_following")
    assert subscriptions.quotas(session, sub.id)["tmpl-points-expiry"] == 0

    # The next morning: the same expiry date is not reminded again, nothing more is sent.
    next_day = MORNING + timedelta(days=1)
    clock.freeze(next_day)
    assert run_job("points_expiry_reminder", next_day)["queued"] == 0
    run_job("messages_dispatch", next_day)
    assert len(sandbox_wx.messages()) == 3


def _queue_reminders(session, shopper, n_sub: int, n_oa: int):
    members = [shopper(f"s{i}", quota=1) for i in range(n_sub)]
    members += [shopper(f"f{i}", follows=True) for i in range(n_oa)]
    reminders.points_expiry_reminder(session, MORNING)
    return members


def _crash_at(monkeypatch, point: str, nth: int = 1):
    seen = {"n": 0}

    def checkpoint(name, message_id=None):
        if name == point:
            seen["n"] += 1
            if seen["n"] == nth:
                raise SimulatedCrash(point)

    monkeypatch.setattr(dispatch, "checkpoint", checkpoint)


def _restart(session, monkeypatch, now):
    """The dispatcher process died: a new one recovers stale rows and carries on."""
    session.rollback()
    monkeypatch.setattr(dispatch, "checkpoint", lambda name, message_id=None: None)
    later = now + timedelta(minutes=3)
    clock.freeze(later)
    recovered = dispatch.recover_stale(session, later)
    _dispatch(session, later, worker="w2")
    return recovered


def _one_message_each(sandbox_wx, members) -> None:
    recipients = [m["touser"] for m in sandbox_wx.messages()]
    expected = [m.openid if m.sub else m.oa_openid for m in members]
    assert sorted(recipients) == sorted(expected)


def _tag(members, n_sub):
    for i, m in enumerate(members):
        m.sub = i < n_sub
    return members


def test_a_crash_between_claim_and_send_loses_nothing(
    app, session, shopper, sandbox_wx, monkeypatch
):
    members = _tag(_queue_reminders(session, shopper, 3, 3), 3)
    _crash_at(monkeypatch, "claimed")
    with pytest.raises(SimulatedCrash):
        _dispatch(session, MORNING)
    assert sandbox_wx.messages() == []
    assert {m.state for m in _outbox(session)} == {"claimed"}
    assert _restart(session, monkeypatch, MORNING) == {"requeued": 6, "uncertain": 0}
    _one_message_each(sandbox_wx, members)
    assert {m.state for m in _outbox(session)} == {"sent"}


def test_a_subscribe_send_cut_off_before_it_was_marked_is_not_resent(
    app, session, shopper, sandbox_wx, monkeypatch
):
    members = _tag(_queue_reminders(session, shopper, 4, 0), 4)
    # Crash after WeChat accepted the 2nd message, before it was marked sent.
    _crash_at(monkeypatch, "sent", nth=2)
    with pytest.raises(SimulatedCrash):
        _dispatch(session, MORNING)
    assert _restart(session, monkeypatch, MORNING) == {"requeued": 2, "uncertain": 1}
    _one_message_each(sandbox_wx, members)
    states = {m.member_id: (m.state, m.reason) for m in _outbox(session)}
    assert states[members[1].id] == ("uncertain", "crashed_mid_send")
    assert sorted(s for s, _ in states.values()) == ["sent", "sent", "sent", "uncertain"]


def test_an_oa_send_cut_off_before_it_was_marked_is_resent_under_the_same_key(
    app, session, shopper, sandbox_wx, monkeypatch
):
    members = _tag(_queue_reminders(session, shopper, 0, 4), 0)
    _crash_at(monkeypatch, "sent", nth=2)
    with pytest.raises(SimulatedCrash):
        _dispatch(session, MORNING)
    assert _restart(session, monkeypatch, MORNING) == {"requeued": 3, "uncertain": 0}
    _one_message_each(sandbox_wx, members)  # WeChat ignored the repeated client_msg_id
    assert sandbox_wx.stats()["template_send"] == 5
    assert {m.state for m in _outbox(session)} == {"sent"}


def test_a_crash_with_a_chunk_in_flight_sends_nothing_twice(
    app, session, shopper, sandbox_wx, monkeypatch
):
    # 3 subscribe and 3 OA messages, 4 in flight at a time: the first chunk (ids 1-4: 3 subscribe,
    # 1 OA) has gone to WeChat when the dispatcher dies, before any of its outcomes is recorded.
    members = _tag(_queue_reminders(session, shopper, 3, 3), 3)
    _crash_at(monkeypatch, "sent", nth=1)
    with pytest.raises(SimulatedCrash):
        _dispatch(session, MORNING, in_flight=4)
    assert len(sandbox_wx.messages()) == 4
    states = Counter(m.state for m in _outbox(session))
    assert states == {"sending": 4, "claimed": 2}
    # The chunk's subscribe messages are uncertain (never resent), its OA message is sent again
    # under the same client_msg_id (WeChat keeps one), the rest go out once.
    assert _restart(session, monkeypatch, MORNING) == {"requeued": 3, "uncertain": 3}
    _one_message_each(sandbox_wx, members)
    assert sandbox_wx.stats()["subscribe_send"] == 3
    assert sandbox_wx.stats()["template_send"] == 4
    rows = {m.member_id: m.state for m in _outbox(session)}
    assert [rows[m.id] for m in members] == ["uncertain"] * 3 + ["sent"] * 3


def test_a_chunk_in_flight_records_every_kind_of_answer(app, session, shopper, sandbox_wx):
    a, b, c, d = (shopper(n, quota=1) for n in ("ca", "cb", "cc", "cd"))
    e = shopper("ce", follows=True)
    reminders.points_expiry_reminder(session, MORNING)
    sandbox_wx.fault("subscribe_send", errcode=-1, touser=a.openid)
    sandbox_wx.fault("subscribe_send", errcode=43101, touser=b.openid)
    counts = _dispatch(session, MORNING, in_flight=8)
    assert counts == {"retry": 1, "failed": 1, "sent": 3}
    rows = {m.member_id: (m.state, m.reason) for m in _outbox(session)}
    assert rows[a.id] == ("pending", "wechat_-1")
    assert rows[b.id] == ("failed", "wechat_43101")
    assert rows[c.id] == rows[d.id] == rows[e.id] == ("sent", None)
    quotas = {m.id: subscriptions.quotas(session, m.id)["tmpl-points-expiry"] for m in (a, b, c)}
    assert quotas == {a.id: 1, b.id: 0, c.id: 0}
    assert _outbox(session, member_id=e.id)[0].msgid is not None


def test_transient_errors_are_retried_and_permanent_ones_recorded(
    app, session, shopper, sandbox_wx
):
    a, b, c = (shopper(n, quota=1) for n in ("a", "b", "c"))
    reminders.points_expiry_reminder(session, MORNING)
    sandbox_wx.fault("subscribe_send", errcode=-1, touser=a.openid)
    sandbox_wx.fault("subscribe_send", errcode=43101, touser=b.openid)
    sandbox_wx.fault("subscribe_send", errcode=40001, touser=c.openid)  # refreshed, retried once
    _dispatch(session, MORNING)
    rows = {m.member_id: m for m in _outbox(session)}
    assert (rows[a.id].state, rows[a.id].reason) == ("pending", "wechat_-1")
    assert rows[a.id].not_before > MORNING + timedelta(seconds=10)
    assert (rows[b.id].state, rows[b.id].reason) == ("failed", "wechat_43101")
    assert rows[c.id].state == "sent"
    quotas = {
        q.member_id: q.available
        for q in session.execute(select(SubscriptionQuota)).scalars()
        if q.template_id == "tmpl-points-expiry"
    }
    assert quotas[a.id] == 1  # given back: WeChat did not use it
    assert quotas[b.id] == 0  # 43101 is WeChat's final word
    _dispatch(session, MORNING + timedelta(minutes=30))
    assert _outbox(session, member_id=a.id)[0].state == "sent"
    assert sorted(m["touser"] for m in sandbox_wx.messages()) == sorted([a.openid, c.openid])


def test_a_subscribe_send_that_timed_out_is_not_resent(
    app, session, shopper, sandbox_wx, monkeypatch
):
    a = shopper("slow", quota=1)
    reminders.points_expiry_reminder(session, MORNING)
    monkeypatch.setitem(app.config, "WECHAT_TIMEOUT", 0.3)
    sandbox_wx.fault("subscribe_send", delay=0.8, touser=a.openid)
    _dispatch(session, MORNING)
    row = _outbox(session)[0]
    assert (row.state, row.reason) == ("uncertain", "timeout")
    _dispatch(session, MORNING + timedelta(hours=1))
    assert sandbox_wx.stats()["subscribe_send"] == 1


def test_quiet_hours_hold_messages_until_morning(app, session, shopper, sandbox_wx):
    shopper("night", quota=1)
    evening = datetime(2026, 12, 25, 22, 30, tzinfo=UTC) - timedelta(hours=8)
    clock.freeze(evening)
    run_job("points_expiry_reminder", evening)
    row = _outbox(session)[0]
    assert row.not_before == datetime(2026, 12, 26, 1, 0, tzinfo=UTC)  # 09:00 Beijing
    run_job("messages_dispatch", evening)
    early = datetime(2026, 12, 26, 8, 59, tzinfo=UTC) - timedelta(hours=8)
    clock.freeze(early)
    run_job("messages_dispatch", early)
    assert sandbox_wx.messages() == []
    nine = datetime(2026, 12, 26, 9, 0, tzinfo=UTC) - timedelta(hours=8)
    clock.freeze(nine)
    run_job("messages_dispatch", nine)
    assert len(sandbox_wx.messages()) == 1


def test_marketing_is_capped_at_one_per_three_days(app, session, shopper, sandbox_wx):
    from app.services.messaging import outbox

    member = shopper("busy", quota=5, points=0)
    for day, key in ((0, "a"), (1, "b"), (3, "c")):
        now = MORNING + timedelta(days=day)
        outbox.enqueue(
            session,
            "dormant_wakeup",
            [{"member_id": member.id, "dedupe_key": key}],
            now,
            marketing=True,
        )
        session.commit()
        _dispatch(session, now)
    rows = {r.dedupe_key: (r.state, r.reason) for r in _outbox(session)}
    assert rows == {
        "a": ("sent", None),
        "b": ("skipped", "marketing_cap"),
        "c": ("sent", None),
    }
    # Service messages (reminders) are not capped.
    assert subscriptions.quotas(session, member.id)["tmpl-wakeup"] == 3


def test_the_send_rate_is_shared_by_every_dispatcher(app):
    import threading

    from app.extensions import get_redis, rkey
    from app.services.messaging.send_rate import TokenBucket

    taken = []

    def take(n):
        with app.app_context():
            bucket = TokenBucket(get_redis(), rkey("test", "bucket"), rate=20, burst=1)
            for _ in range(n):
                assert bucket.take()
                taken.append(time.monotonic())

    started = time.monotonic()
    threads = [threading.Thread(target=take, args=(15,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 30 tokens at 20 a second from a burst of 1: about 1.45 s, whoever asks.
    assert time.monotonic() - started >= 1.3


def test_four_dispatchers_at_once_send_each_message_once(app, session, make_member, sandbox_wx):
    from app.services.messaging import outbox
    from jobs.messaging import run_dispatchers

    members = [make_member() for _ in range(60)]
    for m in members:
        subscriptions.record_result(session, m.id, ["tmpl-wakeup"], [])
    outbox.enqueue(
        session,
        "dormant_wakeup",
        [{"member_id": m.id, "dedupe_key": "k"} for m in members],
        MORNING,
        marketing=True,
    )
    session.commit()
    clock.freeze(MORNING)
    counts = run_dispatchers(lambda: MORNING, workers=4, batch=5)
    assert counts == {"sent": 60}
    recipients = [m["touser"] for m in sandbox_wx.messages()]
    assert sorted(recipients) == sorted(m.openid for m in members)


def test_a_dispatcher_process_killed_mid_batch_then_restarted_delivers_each_once(
    app, session, shopper, sandbox_wx, live_server
):
    import signal
    import subprocess
    import sys

    from tests.jobs.test_scheduler import ROOT

    members = _tag(_queue_reminders(session, shopper, 6, 6), 6)
    # Every send takes a while, so the process is surely killed in the middle of the batch.
    sandbox_wx.fault("subscribe_send", delay=0.4, times=20)
    sandbox_wx.fault("template_send", delay=0.4, times=20)
    env = sandbox_process_env(
        app, WECHAT_API_BASE=live_server + "/_sandbox/wechat", DISPATCH_IN_FLIGHT="2"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run-once"]
        + ["messages_dispatch", "--now", MORNING.isoformat()],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 40
        while time.time() < deadline and len(_outbox(session, state="sent")) < 2:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert 2 <= len(_outbox(session, state="sent")) < 12
    time.sleep(1)  # the sandbox finishes the request the killed process was waiting on
    later = MORNING + timedelta(minutes=3)
    clock.freeze(later)
    dispatch.recover_stale(session, later)
    _dispatch(session, later, worker="restarted")
    # The send the kill interrupted may or may not have reached WeChat: an official-account
    # message is sent again under the same client_msg_id (WeChat keeps one), a subscribe message
    # is marked uncertain and never resent. So nobody gets two, and only those (the sends in
    # flight: 2 dispatcher threads x DISPATCH_IN_FLIGHT 2) may get none.
    received = Counter(m["touser"] for m in sandbox_wx.messages())
    state = {row.member_id: row.state for row in _outbox(session)}
    for m in members:
        to = m.openid if m.sub else m.oa_openid
        if state[m.id] == "sent":
            assert received.pop(to, 0) == 1, m
        else:
            assert state[m.id] == "uncertain" and m.sub and received.pop(to, 0) <= 1, m
    assert received == {}
    assert list(state.values()).count("uncertain") <= 4


def test_the_daily_quota_pauses_every_dispatcher(app, session, shopper, sandbox_wx):
    from app.extensions import get_redis, rkey
    from app.services.messaging.send_rate import TokenBucket

    a, b = shopper("q1", quota=1), shopper("q2", quota=1)
    reminders.points_expiry_reminder(session, MORNING)
    sandbox_wx.fault("subscribe_send", errcode=45009)
    bucket = TokenBucket(get_redis(), rkey("test", "quota"), rate=100, burst=10)
    counts = _dispatch(session, MORNING, bucket=bucket)
    assert counts == {"paused_daily_quota": 1}
    assert bucket.paused()
    # Another dispatcher a minute later sends nothing while the pause lasts.
    assert _dispatch(session, MORNING + timedelta(minutes=1), bucket=bucket) == {"paused": 1}
    rows = _outbox(session)
    assert {r.state for r in rows} == {"pending"}
    assert sandbox_wx.messages() == []
    assert {a.id, b.id} == {r.member_id for r in rows}
