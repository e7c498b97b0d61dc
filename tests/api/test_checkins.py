"""Daily check-in, streaks, make-ups, the calendar; time-zone edges."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from app import clock
from tests.conftest import error_code, ledger_invariants

# 2026-11-10 09:00 in Beijing.
DAY1 = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)


def at(day_offset: int, hours: float = 0) -> datetime:
    return DAY1 + timedelta(days=day_offset, hours=hours)


def checkin(client, headers, **extra):
    return client.post("/api/v1/checkins", headers={**headers, **extra})


@pytest.fixture
def member(make_member):
    return make_member(joined_at=DAY1 - timedelta(days=60))


def test_check_in_once_a_day_with_streak_rewards(client, member, member_headers, session):
    headers = member_headers(member)
    rewards = []
    for day in range(9):
        clock.freeze(at(day))
        response = checkin(client, headers)
        assert response.status_code == 201
        body = response.get_json()
        assert body["date"] == (at(day) + timedelta(hours=8)).date().isoformat()
        assert body["streak"] == day + 1
        rewards.append(body["points_awarded"])
    assert rewards == [5, 5, 10, 5, 5, 10, 30, 5, 5]
    again = checkin(client, headers)
    assert again.status_code == 409
    assert error_code(again) == "checkin.already_done"
    assert ledger_invariants(session, member.id) == sum(rewards)
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["checkin"] == {"streak": 9, "checked_in_today": True}


def test_a_missed_day_breaks_the_streak(client, member, member_headers):
    headers = member_headers(member)
    clock.freeze(at(0))
    checkin(client, headers)
    clock.freeze(at(2))
    body = checkin(client, headers).get_json()
    assert (body["streak"], body["points_awarded"]) == (1, 5)


def test_2359_and_0001_beijing_are_two_days_whatever_the_server_zone(
    client, member, member_headers
):
    headers = member_headers(member)
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    try:
        clock.freeze(datetime(2026, 11, 20, 15, 59, tzinfo=UTC))  # 23:59 Beijing
        first = checkin(client, headers).get_json()
        clock.freeze(datetime(2026, 11, 20, 16, 1, tzinfo=UTC))  # 00:01 Beijing, next day
        second = checkin(client, headers)
        assert second.status_code == 201
        assert (first["date"], second.get_json()["date"]) == ("2026-11-20", "2026-11-21")
        assert second.get_json()["streak"] == 2
    finally:
        if old_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old_tz
        time.tzset()


def test_makeup_repairs_the_streak_and_costs_points(client, member, member_headers, grant, session):
    headers = member_headers(member)
    grant(member, 100, now=at(0))
    for day in (0, 1, 3):  # day 2 missed
        clock.freeze(at(day))
        checkin(client, headers)
    clock.freeze(at(3, 2))
    made = client.post("/api/v1/checkins/makeup", json={"date": "2026-11-12"}, headers=headers)
    assert made.status_code == 201
    body = made.get_json()
    assert (body["date"], body["streak"], body["points_awarded"]) == ("2026-11-12", 3, 10)
    # 100 granted + 5 + 5 + 5 (day 3 was a new streak) - 20 cost + 10 for day 2
    assert body["balance"] == 105
    assert client.get("/api/v1/me", headers=headers).get_json()["checkin"]["streak"] == 4
    calendar = client.get("/api/v1/checkins?month=2026-11", headers=headers).get_json()
    assert calendar["days"] == ["2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13"]
    assert calendar["streak"] == 4
    assert calendar["makeups_left_this_month"] == 1
    assert calendar["rules"]["rewards"] == [5, 5, 10, 5, 5, 10, 30]
    clock.freeze(at(4))
    assert checkin(client, headers).get_json()["streak"] == 5
    assert ledger_invariants(session, member.id) == 110


def test_makeup_errors(client, member, member_headers, grant, session):
    headers = member_headers(member)
    clock.freeze(at(10))

    def makeup(day):
        return client.post("/api/v1/checkins/makeup", json={"date": day}, headers=headers)

    poor = makeup("2026-11-19")
    assert poor.status_code == 409 and error_code(poor) == "points.insufficient"
    grant(member, 100, now=at(10))
    for day in ("2026-11-20", "2026-11-12", "2026-11-25"):  # today, too old, future
        response = makeup(day)
        assert response.status_code == 422
        assert error_code(response) == "checkin.makeup_out_of_window"
    assert makeup("2026-11-19").status_code == 201
    assert error_code(makeup("2026-11-19")) == "checkin.already_done"
    assert makeup("2026-11-18").status_code == 201
    capped = makeup("2026-11-17")
    assert capped.status_code == 409 and error_code(capped) == "checkin.makeup_limit_reached"
    assert (
        client.post("/api/v1/checkins/makeup", json={"date": "nope"}, headers=headers).status_code
        == 422
    )
    # The refused make-up for lack of points used no allowance and left no trace.
    assert ledger_invariants(session, member.id) == 100 - 40 + 5 + 5


def test_makeup_cannot_predate_joining(client, make_member, member_headers, grant):
    member = make_member(joined_at=at(0))
    grant(member, 100, now=at(0))
    clock.freeze(at(3))
    response = client.post(
        "/api/v1/checkins/makeup", json={"date": "2026-11-09"}, headers=member_headers(member)
    )
    assert error_code(response) == "checkin.makeup_out_of_window"


def test_calendar_validates_month(client, member, member_headers):
    clock.freeze(at(0))
    headers = member_headers(member)
    assert client.get("/api/v1/checkins?month=2026-13", headers=headers).status_code == 422
    assert client.get("/api/v1/checkins", headers=headers).get_json()["month"] == "2026-11"


def test_checkin_program_admin(client, make_staff, staff_headers, member, member_headers):
    admin = staff_headers(make_staff("admin"))
    rules = {
        "rewards": [1, 2, 3],
        "makeup_cost": 0,
        "makeup_window_days": 3,
        "makeup_monthly_cap": 5,
    }
    assert (
        client.put("/staff/v1/admin/programs/checkin", json=rules, headers=admin).status_code == 200
    )
    assert client.get("/staff/v1/admin/programs/checkin", headers=admin).get_json() == rules
    bad = client.put(
        "/staff/v1/admin/programs/checkin", json={**rules, "rewards": []}, headers=admin
    )
    assert bad.status_code == 422
    clock.freeze(at(0))
    assert checkin(client, member_headers(member)).get_json()["points_awarded"] == 1


def test_a_day_whose_reward_is_zero_counts_for_the_streak_and_moves_nothing(
    client, make_staff, staff_headers, member, member_headers, grant, session
):
    """Rewards of 0 are allowed ("nothing until day 3"): the day is kept, no entry is written."""
    admin = staff_headers(make_staff("admin"))
    rules = {"rewards": [0, 0, 7], "makeup_cost": 0, "makeup_window_days": 3,
             "makeup_monthly_cap": 5}  # fmt: skip
    assert (
        client.put("/staff/v1/admin/programs/checkin", json=rules, headers=admin).status_code == 200
    )
    headers = member_headers(member)
    grant(member, 10, now=at(0))
    clock.freeze(at(0))
    first = checkin(client, headers)
    assert first.status_code == 201
    assert first.get_json() == {
        "date": "2026-11-10",
        "streak": 1,
        "points_awarded": 0,
        "balance": 10,
    }
    clock.freeze(at(2))
    made = client.post("/api/v1/checkins/makeup", json={"date": "2026-11-11"}, headers=headers)
    assert made.status_code == 201
    assert (made.get_json()["streak"], made.get_json()["points_awarded"]) == (2, 0)
    assert made.get_json()["balance"] == 10
    third = checkin(client, headers).get_json()
    assert (third["streak"], third["points_awarded"], third["balance"]) == (3, 7, 17)
    assert ledger_invariants(session, member.id) == 17
    assert error_code(checkin(client, headers)) == "checkin.already_done"


def test_check_in_with_a_token_of_an_unknown_member_is_401(
    client, member_headers, make_member, session
):
    # Issue 14: the token names nobody, so it is refused as a token. Issue 15: without a key
    # the check-in's own statement finds nobody (no separate check); with a key the check comes
    # first, so no key's row is written for nobody.
    from sqlalchemy import func, select

    from app.models import Member
    from app.models.idempotency import IdempotencyKey

    ghost = make_member()
    headers = member_headers(ghost)
    session.query(Member).filter_by(id=ghost.id).update({"id": ghost.id + 10_000})
    session.commit()
    response = checkin(client, headers)
    assert response.status_code == 401 and error_code(response) == "auth.invalid_token"
    keyed = checkin(client, headers, **{"Idempotency-Key": "ghost-1"})
    assert keyed.status_code == 401 and error_code(keyed) == "auth.invalid_token"
    assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_a_check_in_is_one_statement(client, member, member_headers, session):
    """Issue 15: the member check is the check-in statement's own (one round trip a check-in)."""
    from sqlalchemy import event

    from app.extensions import db

    clock.freeze(at(0))
    headers = member_headers(member)
    session.commit()
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    assert checkin(client, headers).status_code == 201  # the programs' settings are cached now
    clock.freeze(at(1))
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert checkin(client, headers).status_code == 201
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements


def test_checkin_idempotency_key_replays(client, member, member_headers):
    clock.freeze(at(0))
    headers = member_headers(member, **{"Idempotency-Key": "ck-1"})
    first = checkin(client, headers)
    second = checkin(client, headers)
    assert second.status_code == 201 and second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json() == first.get_json()


def test_fifty_simultaneous_check_ins_pay_once(live_server, member, member_headers, session):
    headers = member_headers(member)
    barrier = threading.Barrier(50)
    codes: list[int] = []

    def tap():
        barrier.wait()
        codes.append(
            requests.post(live_server + "/api/v1/checkins", headers=headers, timeout=30).status_code
        )

    threads = [threading.Thread(target=tap) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201] + [409] * 49
    assert ledger_invariants(session, member.id) == 5


def test_a_check_in_waiting_behind_a_make_up_of_yesterday_counts_it(app, member, session):
    """Today's check-in starts while a make-up of yesterday holds the member: when the make-up
    commits, the check-in must continue the repaired streak, not start a new one at day 1."""
    from sqlalchemy import text

    from app.extensions import db
    from app.services import checkin as checkin_service

    clock.freeze(None)
    checkin_service.check_in(session, member.id, now=at(0))  # day 1; day 2 (at(1)) is missed
    results: list = []
    with db.engine.connect() as makeup:
        makeup.begin()
        # What a make-up of day 2 does inside its transaction: lock the member, insert the day,
        # move the balance (here only the row's timestamp).
        makeup.execute(text("SELECT id FROM members WHERE id = :m FOR UPDATE"), {"m": member.id})
        makeup.execute(
            text(
                "INSERT INTO checkins (member_id, day, streak, points_awarded, kind, created_at)"
                " VALUES (:m, :d, 2, 5, 'makeup', now())"
            ),
            {"m": member.id, "d": (at(1) + timedelta(hours=8)).date()},
        )
        makeup.execute(
            text("UPDATE members SET updated_at = now() WHERE id = :m"), {"m": member.id}
        )

        def today():
            with app.app_context():
                results.append(checkin_service.check_in(db.session, member.id, now=at(2)))
                db.session.remove()

        waiting = threading.Thread(target=today)
        waiting.start()
        time.sleep(0.5)  # the check-in has started and waits for the member
        assert waiting.is_alive()
        makeup.commit()
    waiting.join(timeout=10)
    assert (results[0]["streak"], results[0]["points_awarded"]) == (3, 10)


def _entries_by_day(client, headers, member_id) -> dict[str, int]:
    """What the ledger paid for each check-in day (its reward and any re-pricing of it)."""
    paid: dict[str, int] = {}
    url = "/api/v1/me/points/entries?limit=100"
    while url:
        page = client.get(url, headers=headers).get_json()
        for entry in page["items"]:
            if entry["ref"].startswith(f"checkin:{member_id}:"):
                day = entry["ref"].split(":")[2]
                paid[day] = paid.get(day, 0) + entry["delta"]
        cursor = page["next_cursor"]
        url = f"/api/v1/me/points/entries?limit=100&cursor={cursor}" if cursor else None
    return paid


def _calendar_points(client, headers) -> dict[str, int]:
    calendar = client.get("/api/v1/checkins?month=2026-11", headers=headers).get_json()
    assert [c["date"] for c in calendar["checkins"]] == calendar["days"]
    return {c["date"]: c["points_awarded"] for c in calendar["checkins"]}


def test_a_makeup_that_repairs_a_streak_pays_the_days_after_it(
    client, member, member_headers, grant, session
):
    """Days 1-5 checked in, day 6 missed, day 7 checked in (a new streak: 5 points). Making up
    day 6 makes day 7 the 7th day of the streak, worth 30: the member is paid the 25 missing."""
    headers = member_headers(member)
    grant(member, 100, now=at(0))
    for day in (0, 1, 2, 3, 4, 6):
        clock.freeze(at(day))
        assert checkin(client, headers).status_code == 201
    clock.freeze(at(7))
    made = client.post("/api/v1/checkins/makeup", json={"date": "2026-11-15"}, headers=headers)
    assert made.status_code == 201
    assert (made.get_json()["streak"], made.get_json()["points_awarded"]) == (6, 10)
    # 100 + (5 + 5 + 10 + 5 + 5) + 5 for day 7 - 20 cost + 10 for day 6 + 25 more for day 7
    assert made.get_json()["balance"] == 150
    retry = client.post("/api/v1/checkins/makeup", json={"date": "2026-11-15"}, headers=headers)
    assert error_code(retry) == "checkin.already_done"
    today = checkin(client, headers).get_json()
    assert (today["streak"], today["points_awarded"], today["balance"]) == (8, 5, 155)
    calendar = client.get("/api/v1/checkins?month=2026-11", headers=headers).get_json()
    assert [(c["date"], c["streak"]) for c in calendar["checkins"]][-3:] == [
        ("2026-11-15", 6),
        ("2026-11-16", 7),
        ("2026-11-17", 8),
    ]
    points = _calendar_points(client, headers)
    assert points["2026-11-16"] == 30
    assert points == _entries_by_day(client, headers, member.id)
    assert ledger_invariants(session, member.id) == 155


def test_two_makeups_reprice_a_day_twice_paying_each_difference_once(
    client, member, member_headers, grant, session
):
    headers = member_headers(member)
    grant(member, 100, now=at(0))
    for day in (0, 1, 2, 5, 6):  # days 4 and 5 (at(3), at(4)) missed
        clock.freeze(at(day))
        checkin(client, headers)
    clock.freeze(at(6, 2))

    def makeup(day):
        return client.post("/api/v1/checkins/makeup", json={"date": day}, headers=headers)

    # Day 5: a streak of 1; day 7 becomes the 3rd day (10, was 5).
    assert makeup("2026-11-14").get_json()["balance"] == 100 + 30 - 20 + 5 + 5
    # Day 4: the 4th day; day 5 the 5th (5), day 6 the 6th (10, was 5), day 7 the 7th (30, was 10).
    second = makeup("2026-11-13").get_json()
    assert (second["streak"], second["points_awarded"]) == (4, 5)
    assert second["balance"] == 100 + 30 - 20 + 5 + 5 - 20 + 5 + 5 + 20
    points = _calendar_points(client, headers)
    assert list(points.values()) == [5, 5, 10, 5, 5, 10, 30]
    assert points == _entries_by_day(client, headers, member.id)
    assert client.get("/api/v1/me", headers=headers).get_json()["checkin"]["streak"] == 7
    assert ledger_invariants(session, member.id) == 130


def test_a_repair_never_takes_back_what_a_day_was_paid(
    client, member, member_headers, grant, session
):
    """Making up the first day of a window moves later days along the cycle: a day that was the
    3rd (10) becomes the 4th (5). The member keeps the 10; the days that gain are paid."""
    headers = member_headers(member)
    grant(member, 100, now=at(0))
    for day in (1, 2, 3):
        clock.freeze(at(day))
        checkin(client, headers)
    clock.freeze(at(3, 2))
    made = client.post("/api/v1/checkins/makeup", json={"date": "2026-11-10"}, headers=headers)
    assert made.status_code == 201
    # 100 + (5 + 5 + 10) - 20 + 5 for day 1 + 5 more for day 3 (now the 3rd day); day 4 keeps 10
    assert made.get_json()["balance"] == 110
    points = _calendar_points(client, headers)
    assert points == {"2026-11-10": 5, "2026-11-11": 5, "2026-11-12": 10, "2026-11-13": 10}
    assert points == _entries_by_day(client, headers, member.id)
    assert ledger_invariants(session, member.id) == 110
