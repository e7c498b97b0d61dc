"""Message dispatch through RQ: the scheduler's job tops the queue up, and several
`flask jobs worker` processes deliver each message exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from rq import Worker
from sqlalchemy import func, select

from app.models.messaging import OutboxMessage
from jobs import queue
from tests.conftest import sandbox_process_env
from tests.jobs.test_messaging import (  # noqa: F401  (fixtures)
    MORNING,
    _one_message_each,
    _queue_reminders,
    _tag,
    sandbox_wx,
    shopper,
)
from tests.jobs.test_scheduler import ROOT


@pytest.fixture
def rq_queue(app, monkeypatch):
    monkeypatch.setitem(app.config, "DISPATCH_VIA", "rq")
    q = queue.message_queue(app)
    q.empty()
    yield q
    q.empty()


def test_the_dispatch_job_tops_the_queue_up_instead_of_piling_on(app, rq_queue, monkeypatch):
    from jobs.messaging import messages_dispatch_job

    monkeypatch.setitem(app.config, "DISPATCH_WORKERS", 3)
    first = messages_dispatch_job(MORNING)
    assert first["dispatch_tasks_enqueued"] == 3
    # The workers are busy (nothing took the tasks): the next minute adds nothing.
    second = messages_dispatch_job(MORNING)
    assert second["dispatch_tasks_enqueued"] == 0 and second["dispatch_tasks_waiting"] == 3
    assert rq_queue.count == 3
    assert rq_queue.name == app.config["REDIS_KEY_PREFIX"] + "messages"


def test_without_a_real_redis_the_queue_refuses_clearly(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    with pytest.raises(queue.QueueUnavailable, match="REDIS_URL"):
        queue.connection(app)


def test_a_claim_takes_no_more_than_its_batch(app, session, shopper):  # noqa: F811
    from app.services.messaging import dispatch

    _queue_reminders(session, shopper, 6, 6)
    first = dispatch.claim_batch(session, MORNING, "w1", 3)
    second = dispatch.claim_batch(session, MORNING, "w2", 3)
    assert len(first) == 3 and len(second) == 3 and not set(first) & set(second)
    session.expire_all()
    claimed = session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "claimed")
    )
    assert claimed == 6


def test_several_worker_processes_deliver_each_message_once(
    app,
    session,
    shopper,  # noqa: F811
    sandbox_wx,  # noqa: F811
    live_server,
    rq_queue,
):
    members = _tag(_queue_reminders(session, shopper, 12, 12), 12)
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 24
    # Slow sends, so both workers are surely delivering at the same time.
    sandbox_wx.fault("subscribe_send", delay=0.3, times=30)
    sandbox_wx.fault("template_send", delay=0.3, times=30)
    env = sandbox_process_env(
        app, WECHAT_API_BASE=live_server + "/_sandbox/wechat", DISPATCH_VIA="rq"
    )
    names = ["w1", "w2"]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", "--name", name],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in names
    ]
    try:
        _wait(lambda: len(Worker.all(queue=rq_queue)) == 2, 60, "the workers did not start")
        # Small batches: four tasks for two workers, each claiming 3 messages at a time.
        for _ in range(4):
            rq_queue.enqueue(
                "jobs.queue.dispatch_batch",
                kwargs={"as_of": MORNING.isoformat(), "batch": 3, "budget_seconds": 30},
            )
        _wait(lambda: _sent(session) == 24 and rq_queue.count == 0, 60, "not all were sent")
        _wait(lambda: rq_queue.started_job_registry.count == 0, 30, "tasks did not finish")
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    _one_message_each(sandbox_wx, members)
    session.expire_all()
    states = session.execute(select(OutboxMessage.state, OutboxMessage.claimed_by)).all()
    assert {state for state, _ in states} == {"sent"}
    # Both processes took part (the claims carry the worker's name).
    assert {by.split(":")[1] for _, by in states} == set(names)
    assert rq_queue.count == 0
    assert len(rq_queue.failed_job_registry) == 0


def _sent(session) -> int:
    session.expire_all()
    return session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "sent")
    )


def _wait(predicate, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(message)
