"""One member written from several places at once: no deadlock reaches the caller.

Inserts that reference a member (a purchase, a draw, an allowance row) take the foreign key's
FOR KEY SHARE on the member's row; the ledger then locks that row. FOR UPDATE conflicts with KEY
SHARE, so two such transactions on one member used to wait on each other until PostgreSQL killed
one (40P01) and the caller got 503 service.unavailable. Real concurrent HTTP requests against the
live server on PostgreSQL.
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select, update

from app import clock
from tests.concurrency import fire
from tests.conftest import ledger_invariants
from tests.engagement_factories import NO_PRIZE

pytest_plugins = ["tests.engagement_factories"]

WRITERS = 8


def test_eight_writers_on_one_member_all_get_through_and_the_ledger_is_exact(
    live_server,
    session,
    make_store,
    make_member,
    make_staff,
    make_lottery,
    member_headers,
    staff_headers,
    scan_for,
    grant,
):
    from app.models import Member, Purchase
    from app.models.checkin import Checkin
    from app.models.lottery import LotteryDraw
    from app.models.points import PointEntry

    store = make_store()
    clerk = make_staff("clerk", store=store)
    manager = make_staff("manager", store=store)
    member = make_member(store=store)
    session.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(joined_at=clock.now() - timedelta(days=30))
    )
    session.commit()
    grant(member, 1000)
    lottery = make_lottery(NO_PRIZE, cost_points=10, daily_draw_limit=50)
    scan_id = scan_for(member, clerk)
    today = clock.business_date(clock.now())
    me = member_headers(member)
    till = staff_headers(clerk)
    boss = staff_headers(manager)
    base = live_server
    lottery_id, member_id = lottery.id, member.id  # plain values: the threads have no session

    def purchase(n):
        return lambda s: s.post(
            f"{base}/staff/v1/purchases",
            json={"scan_id": scan_id, "order_no": f"LOCK-{n}", "amount_fen": 1000 + n},
            headers={**till, "Idempotency-Key": f"p-{n}"},
        )

    def draw(n):
        return lambda s: s.post(
            f"{base}/api/v1/lotteries/{lottery_id}/draws",
            headers={**me, "Idempotency-Key": f"d-{n}"},
        )

    def adjust(n):
        return lambda s: s.post(
            f"{base}/staff/v1/members/{member_id}/points/adjustments",
            json={"delta": 3, "reason": f"lock test {n}"},
            headers={**boss, "Idempotency-Key": f"a-{n}"},
        )

    def make_up(days_ago):
        return lambda s: s.post(
            f"{base}/api/v1/checkins/makeup",
            json={"date": (today - timedelta(days=days_ago)).isoformat()},
            headers={**me, "Idempotency-Key": f"m-{days_ago}"},
        )

    calls, kinds = [], []
    for n in range(16):  # 16 rounds of purchase, draw, adjustment: 48 writes
        calls += [purchase(n), draw(n), adjust(n)]
        kinds += ["purchase", "draw", "adjust"]
    for days_ago in (2, 4):  # the month's two make-ups (they take the allowance row)
        calls.insert(7 * days_ago, make_up(days_ago))
        kinds.insert(7 * days_ago, "makeup")
    calls.insert(20, lambda s: s.post(f"{base}/api/v1/checkins", headers=me))
    kinds.insert(20, "checkin")

    started = time.monotonic()
    responses = fire(calls, clients=WRITERS)
    elapsed = time.monotonic() - started
    statuses = [r.status_code for r in responses]
    unavailable = statuses.count(503)
    through = sum(1 for s in statuses if s in (200, 201))
    print(
        f"\n{len(calls)} writes on one member from {WRITERS} writers: {through} got through, "
        f"{unavailable} answered 503, in {elapsed:.1f} s"
    )
    answered = list(zip(kinds, responses, strict=True))
    failed = [(k, r.status_code, r.text[:120]) for k, r in answered if r.status_code >= 500]
    assert unavailable == 0, failed
    assert statuses == [201] * len(calls), [(k, r.status_code) for k, r in answered]

    # The ledger is exact: every write counted once, nothing more.
    session.expire_all()
    assert session.scalar(select(func.count(Purchase.id))) == 16
    assert session.scalar(select(func.count(LotteryDraw.id))) == 16
    assert session.scalar(select(func.count(Checkin.id))) == 3

    def entries(reason):
        return session.scalar(
            select(func.count(PointEntry.id)).where(
                PointEntry.member_id == member.id, PointEntry.reason == reason
            )
        )

    assert entries("lottery") == 16
    assert entries("makeup") == 2
    assert entries("adjustment") == 1 + 16
    awarded = sum(r.json()["points_awarded"] for k, r in answered if k == "purchase")
    earned_checkins = sum(
        r.json()["points_awarded"] for k, r in answered if k in ("checkin", "makeup")
    )
    expected = 1000 + awarded + 16 * 3 - 16 * 10 - 2 * 20 + earned_checkins
    assert ledger_invariants(session, member.id) == expected


def test_a_deadlock_is_retried_inside_the_server_not_answered_503(
    live_server, app, session, make_store, make_member, make_staff, staff_headers
):
    """A real deadlock between a request and another transaction: PostgreSQL aborts the request's
    transaction (40P01); the server runs it again and answers as if nothing happened."""
    import threading

    import requests
    from sqlalchemy import text

    from app.extensions import db
    from app.idempotency import _LOCK_CLASS
    from app.models.points import PointEntry

    store = make_store()
    manager = make_staff("manager", store=store)
    member = make_member(store=store)
    member_id, scope, key = member.id, f"staff:{manager.id}", "deadlock-1"
    url = f"{live_server}/staff/v1/members/{member_id}/points/adjustments"
    headers = {**staff_headers(manager), "Idempotency-Key": key}
    answer = {}

    def adjust():
        answer["response"] = requests.post(
            url, json={"delta": 7, "reason": "deadlock"}, headers=headers, timeout=30
        )

    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'"
    )
    with db.engine.connect() as other, db.engine.connect() as watcher:
        # The other transaction holds the member's row...
        other.execute(text("SELECT 1 FROM members WHERE id = :m FOR UPDATE"), {"m": member_id})
        request = threading.Thread(target=adjust)
        request.start()
        # ...the request claims its key (an advisory lock) and waits for the member's row...
        deadline = time.monotonic() + 10
        while watcher.execute(waiting).scalar() == 0:
            watcher.rollback()  # pg_stat_activity is read once per transaction
            assert time.monotonic() < deadline, "the request never waited for the member"
            time.sleep(0.05)
        # ...and the other transaction now waits for the request's key: a cycle. The request
        # waited first, so its deadlock check (after deadlock_timeout) finds it and aborts it.
        other.execute(
            text("SELECT pg_advisory_xact_lock(:c, hashtext(:s || ' ' || :k))"),
            {"c": _LOCK_CLASS, "s": scope, "k": key},
        )
        other.commit()
    request.join(30)
    response = answer["response"]
    assert response.status_code == 201, response.text
    assert response.json()["delta"] == 7
    session.expire_all()
    entries = session.scalar(
        select(func.count(PointEntry.id)).where(PointEntry.member_id == member_id)
    )
    assert entries == 1
    assert ledger_invariants(session, member_id) == 7
    replay = requests.post(url, json={"delta": 7, "reason": "deadlock"}, headers=headers)
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
