"""A lost answer: the worker is killed after the work commits and before it replies.

A real gunicorn worker serves the request and dies right after the commit (the test-only hook
HY_TEST_KILL_AFTER_COMMIT, honoured under TESTING); the client sees the connection drop and
retries with the same Idempotency-Key, served by the fresh worker gunicorn starts. The retry must
get the original answer (same status, same body, `Idempotent-Replayed`), and the effect must have
happened once: no second draw, coupon, adjustment or check-in, and no `409 checkin.already_done`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from tests.conftest import ledger_invariants
from tests.engagement_factories import NO_PRIZE
from tests.faults.conftest import gunicorn

pytest_plugins = ["tests.engagement_factories"]


@pytest.fixture(scope="module")
def worker(app, tmp_path_factory):
    """One gunicorn worker that dies after its next commit whenever the kill file exists."""
    kill_file = tmp_path_factory.mktemp("kill") / "after-commit"
    with gunicorn(
        app, workers=1, threads=2, TESTING="1", HY_TEST_KILL_AFTER_COMMIT=str(kill_file)
    ) as base:
        yield base, kill_file


def _healthy(base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def lose_the_answer(worker, path: str, headers: dict, json: dict | None = None) -> None:
    """POST once with the worker armed to die after its commit; the client gets no answer."""
    base, kill_file = worker
    kill_file.touch()
    with pytest.raises(requests.ConnectionError):
        requests.post(base + path, json=json, headers=headers, timeout=20)
    assert not kill_file.exists(), "the worker did not reach the commit"
    deadline = time.monotonic() + 30
    while not _healthy(base):  # gunicorn starts a fresh worker
        assert time.monotonic() < deadline, "no fresh worker"
        time.sleep(0.1)


def retry(worker, path: str, headers: dict, json: dict | None = None) -> requests.Response:
    base, kill_file = worker
    assert not Path(kill_file).exists()
    return requests.post(base + path, json=json, headers=headers, timeout=20)


def test_a_lost_adjustment_answer_is_replayed_and_adds_500_once(
    worker, session, make_store, make_staff, make_member, staff_headers
):
    from app.models.points import PointEntry

    store = make_store()
    manager = make_staff("manager", store=store)
    member = make_member(store=store)
    path = f"/staff/v1/members/{member.id}/points/adjustments"
    body = {"delta": 500, "reason": "生日补偿"}
    headers = staff_headers(manager, **{"Idempotency-Key": "adjust-lost-1"})
    lose_the_answer(worker, path, headers, body)
    again = retry(worker, path, headers, body)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    entries = session.execute(select(PointEntry).where(PointEntry.member_id == member.id)).all()
    assert len(entries) == 1
    entry = entries[0][0]
    assert again.json()["id"] == entry.id
    assert (again.json()["delta"], again.json()["balance_after"]) == (500, 500)
    assert ledger_invariants(session, member.id) == 500
    assert retry(worker, path, headers, body).json() == again.json()


def test_a_lost_draw_answer_is_replayed_and_the_member_pays_once(
    worker, session, make_member, member_headers, grant, make_lottery
):
    from app.models.lottery import LotteryDraw, LotteryDrawAllowance

    member = make_member()
    grant(member, 100)
    lottery = make_lottery(NO_PRIZE, cost_points=30)
    path = f"/api/v1/lotteries/{lottery.id}/draws"
    headers = member_headers(member, **{"Idempotency-Key": "draw-lost-1"})
    lose_the_answer(worker, path, headers)
    again = retry(worker, path, headers)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    draws = session.scalars(select(LotteryDraw).where(LotteryDraw.member_id == member.id)).all()
    assert len(draws) == 1
    assert again.json()["draw_id"] == draws[0].id
    assert (again.json()["points_spent"], again.json()["balance"]) == (30, 70)
    assert ledger_invariants(session, member.id) == 70
    used = session.scalar(
        select(LotteryDrawAllowance.used).where(LotteryDrawAllowance.member_id == member.id)
    )
    assert used == 1


def test_a_lost_claim_answer_is_replayed_and_gives_one_coupon(
    worker, session, make_member, member_headers, make_template
):
    from app.models.coupons import Coupon, CouponTemplate

    member = make_member()
    template = make_template(limit_per_member=3)
    path = f"/api/v1/coupons/{template.id}/claims"
    headers = member_headers(member, **{"Idempotency-Key": "claim-lost-1"})
    lose_the_answer(worker, path, headers)
    again = retry(worker, path, headers)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    coupons = session.scalars(select(Coupon).where(Coupon.member_id == member.id)).all()
    assert len(coupons) == 1
    assert again.json()["coupon"]["id"] == coupons[0].id
    assert again.json()["coupon"]["code"] == coupons[0].code
    issued = session.scalar(select(CouponTemplate.issued).where(CouponTemplate.id == template.id))
    assert issued == 1


def test_a_lost_check_in_answer_is_the_original_201_not_409(
    worker, session, make_member, member_headers
):
    from app.models.checkin import Checkin

    member = make_member()
    headers = member_headers(member, **{"Idempotency-Key": "checkin-lost-1"})
    lose_the_answer(worker, "/api/v1/checkins", headers)
    again = retry(worker, "/api/v1/checkins", headers)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    row = session.scalars(select(Checkin).where(Checkin.member_id == member.id)).one()
    assert again.json() == {
        "date": row.day.isoformat(),
        "streak": 1,
        "points_awarded": 5,
        "balance": 5,
    }
    assert ledger_invariants(session, member.id) == 5
    # Without the key it is a new request, and today is done.
    fresh = retry(worker, "/api/v1/checkins", member_headers(member))
    assert fresh.status_code == 409
    assert fresh.json()["error"]["code"] == "checkin.already_done"
    assert session.scalar(select(func.count()).select_from(Checkin)) == 1
