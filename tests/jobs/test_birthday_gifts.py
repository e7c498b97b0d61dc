"""The daily job birthday_gifts: each member's gift once a year, in the business time zone,
whatever the mode, however often it runs or crashes, in a constant number of statements per
batch of member ids."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from app import clock
from app.models import Member, Staff
from app.models.coupons import Coupon
from app.models.messaging import OutboxMessage
from app.models.points import PointEntry
from app.services import programs
from app.services.benefits import birthday_gifts
from app.services.messaging import subscriptions
from jobs.schedule import run_job
from tests.concurrency import bulk_members
from tests.conftest import ledger_invariants
from tests.jobs.test_messaging import sandbox_wx  # noqa: F401 - the fixture
from tests.test_coupons_statements import counting

pytest_plugins = ["tests.engagement_factories"]

# 00:20 Beijing on Thursday 14 May 2026 is 16:20 UTC on 13 May.
MAY_14 = datetime(2026, 5, 13, 16, 20, tzinfo=UTC)


@pytest.fixture
def birthday_program(session, make_staff, make_template):
    def configure(**fields):
        config = {
            "enabled": True,
            "when": "day",
            "points": 88,
            "coupon_template_id": None,
            "notify": True,
        }
        if fields.pop("coupon", False):
            config["coupon_template_id"] = make_template(
                name="生日券",
                claimable=False,
                stock_total=fields.pop("stock", 100),
                limit_per_member=10,  # one a year: the limit counts every year's coupon
            ).id
        config.update(fields)
        return birthday_gifts.save_program(session, config, make_staff("marketer"))

    return configure


def run(now: datetime) -> dict:
    clock.freeze(now)
    return run_job("birthday_gifts")


def gifts(session, member_id: int) -> tuple[list[str], list[str], list[str]]:
    """The member's birthday ledger refs, coupon refs and message keys."""
    session.expire_all()
    entries = session.scalars(
        select(PointEntry.ref).where(
            PointEntry.member_id == member_id, PointEntry.reason == "birthday"
        )
    ).all()
    coupons = session.scalars(
        select(Coupon.ref).where(Coupon.member_id == member_id, Coupon.source == "birthday")
    ).all()
    messages = session.scalars(
        select(OutboxMessage.dedupe_key).where(
            OutboxMessage.member_id == member_id, OutboxMessage.purpose == "birthday_gift"
        )
    ).all()
    return sorted(entries), sorted(coupons), sorted(messages)


def test_todays_birthdays_get_points_coupon_and_message_once(
    session, make_member, birthday_program
):
    birthday_program(coupon=True)
    today = make_member(birthday=date(1990, 5, 14))
    tomorrow = make_member(birthday=date(1990, 5, 15))
    yesterday = make_member(birthday=date(1985, 5, 13))
    unknown = make_member()
    counts = run(MAY_14)
    assert counts == {"members": 1, "points": 88, "coupons": 1, "queued": 1}
    ref = f"birthday:{today.id}:2026"
    assert gifts(session, today.id) == ([ref], [ref], ["2026"])
    assert ledger_invariants(session, today.id) == 88
    for other in (tomorrow, yesterday, unknown):
        assert gifts(session, other.id) == ([], [], [])
        assert ledger_invariants(session, other.id) == 0
    message = session.scalars(select(OutboxMessage)).one()
    assert (message.marketing, message.state) == (False, "pending")
    # Queued after midnight: held until the end of quiet hours (09:00 Beijing).
    assert message.not_before == datetime(2026, 5, 14, 1, 0, tzinfo=UTC)
    # Again the same day, and later that day: nothing more.
    assert run(MAY_14)["points"] == 0
    assert run(MAY_14 + timedelta(hours=12)) == {
        "members": 1,
        "points": 0,
        "coupons": 0,
        "queued": 0,
    }
    assert gifts(session, today.id) == ([ref], [ref], ["2026"])
    assert ledger_invariants(session, today.id) == 88
    # Next year: the next gift.
    run(MAY_14.replace(year=2027))
    refs = [ref, f"birthday:{today.id}:2027"]
    assert gifts(session, today.id) == (refs, refs, ["2026", "2027"])
    assert ledger_invariants(session, today.id) == 176


def test_a_crash_mid_batch_gives_nothing_twice(session, make_member, birthday_program, monkeypatch):
    """The job dies after the first batch committed and inside the second (after its points,
    before its coupons): the second batch is undone whole, the next run finishes the rest."""
    birthday_program(coupon=True)
    members = [make_member(birthday=date(1990 + n, 5, 14)) for n in range(6)]
    monkeypatch.setattr(birthday_gifts, "BATCH", 2)
    low = min(m.id for m in members)
    real_push = birthday_gifts.coupon_push.push_coupons
    pushes = {"n": 0}

    def crash_on_the_second_batch(session_, template_id, ids, refs, **kwargs):
        pushes["n"] += 1
        if pushes["n"] == 2:
            raise RuntimeError("the scheduler's host went away")
        return real_push(session_, template_id, ids, refs, **kwargs)

    monkeypatch.setattr(birthday_gifts.coupon_push, "push_coupons", crash_on_the_second_batch)
    clock.freeze(MAY_14)
    with pytest.raises(RuntimeError):
        run_job("birthday_gifts")
    session.expire_all()
    given = {m.id: gifts(session, m.id) for m in members}
    first_batch = [m.id for m in members if m.id < low + 2]
    assert all(given[m][0] and given[m][1] for m in first_batch)
    assert all(given[m] == ([], [], []) for m in given if m not in first_batch)
    monkeypatch.setattr(birthday_gifts.coupon_push, "push_coupons", real_push)
    assert run(MAY_14 + timedelta(minutes=5)) == {
        "members": 6,
        "points": 88 * 4,
        "coupons": 4,
        "queued": 4,
    }
    assert run(MAY_14 + timedelta(minutes=10))["points"] == 0
    for m in members:
        ref = f"birthday:{m.id}:2026"
        assert gifts(session, m.id) == ([ref], [ref], ["2026"])
        assert ledger_invariants(session, m.id) == 88


def test_week_mode_gives_the_whole_iso_week_from_its_monday(session, make_member, birthday_program):
    birthday_program(when="week")
    # The ISO week of Thursday 14 May 2026 runs from Monday 11 to Sunday 17 May.
    inside = [make_member(birthday=date(1990, 5, d)) for d in (11, 14, 17)]
    outside = [make_member(birthday=date(1990, 5, d)) for d in (10, 18)]
    monday = datetime(2026, 5, 10, 16, 20, tzinfo=UTC)  # 00:20 on the Monday, Beijing
    assert run(monday)["members"] == 3
    # Later in the week, nothing more; the next week gives the next one.
    assert run(MAY_14)["points"] == 0
    assert run(monday + timedelta(days=7))["members"] == 1  # 18 May (17 May is past)
    for m in inside:
        assert gifts(session, m.id)[0] == [f"birthday:{m.id}:2026"]
    assert gifts(session, outside[0].id)[0] == []
    assert gifts(session, outside[1].id)[0] == [f"birthday:{outside[1].id}:2026"]


def test_week_mode_a_missed_monday_is_caught_up_later_in_the_week(
    session, make_member, birthday_program
):
    birthday_program(when="week")
    early = make_member(birthday=date(1990, 5, 11))  # the Monday, already past on Thursday
    assert run(MAY_14)["members"] == 1
    assert gifts(session, early.id)[0] == [f"birthday:{early.id}:2026"]


def test_week_mode_across_new_year_names_the_year_of_each_birthday(
    session, make_member, birthday_program
):
    birthday_program(when="week")
    december = make_member(birthday=date(1990, 12, 30))
    january = make_member(birthday=date(1990, 1, 2))
    # Monday 28 December 2026: its ISO week runs to Sunday 3 January 2027.
    run(datetime(2026, 12, 27, 16, 20, tzinfo=UTC))
    assert gifts(session, december.id)[0] == [f"birthday:{december.id}:2026"]
    assert gifts(session, january.id)[0] == [f"birthday:{january.id}:2027"]
    # The day itself in 2027, in day mode: January's gift for 2027 was given already.
    birthday_program(when="day")
    assert run(datetime(2027, 1, 1, 16, 20, tzinfo=UTC))["points"] == 0
    assert ledger_invariants(session, january.id) == 88


def test_month_mode_on_the_first_or_the_first_run_after(session, make_member, birthday_program):
    birthday_program(when="month", coupon=True)
    may = [make_member(birthday=date(1990, 5, d)) for d in (1, 14, 31)]
    june = make_member(birthday=date(1990, 6, 1))
    first = datetime(2026, 4, 30, 16, 20, tzinfo=UTC)  # 00:20 on 1 May, Beijing
    assert run(first) == {"members": 3, "points": 264, "coupons": 3, "queued": 3}
    assert run(MAY_14)["coupons"] == 0
    late = make_member(birthday=date(1990, 5, 2))  # set after the 1st: given by the next run
    assert run(MAY_14)["coupons"] == 1
    for m in [*may, late]:
        assert gifts(session, m.id)[1] == [f"birthday:{m.id}:2026"]
    assert gifts(session, june.id) == ([], [], [])


def test_29_february_counts_as_28_february_in_a_common_year(session, make_member, birthday_program):
    birthday_program()
    leapling = make_member(birthday=date(2000, 2, 29))
    march_first = make_member(birthday=date(2000, 3, 1))
    feb_28_2027 = datetime(2027, 2, 27, 16, 20, tzinfo=UTC)  # 00:20 on 28 Feb, Beijing
    assert run(feb_28_2027)["members"] == 1
    assert gifts(session, leapling.id)[0] == [f"birthday:{leapling.id}:2027"]
    assert run(feb_28_2027 + timedelta(days=1))["members"] == 1  # 1 March: only March's
    assert gifts(session, march_first.id)[0] == [f"birthday:{march_first.id}:2027"]
    # In a leap year, the day itself and not the 28th.
    assert run(datetime(2028, 2, 27, 16, 20, tzinfo=UTC))["members"] == 0
    assert run(datetime(2028, 2, 28, 16, 20, tzinfo=UTC))["members"] == 1
    assert gifts(session, leapling.id)[0] == [
        f"birthday:{leapling.id}:2027",
        f"birthday:{leapling.id}:2028",
    ]


def test_the_day_is_the_business_day_not_the_utc_day(session, make_member, birthday_program):
    birthday_program()
    born_14 = make_member(birthday=date(1990, 5, 14))
    born_13 = make_member(birthday=date(1990, 5, 13))
    # 16:00 UTC on 13 May is midnight on 14 May in Beijing: the 14th's birthdays.
    assert run(datetime(2026, 5, 13, 16, 0, tzinfo=UTC))["members"] == 1
    assert gifts(session, born_14.id)[0] and not gifts(session, born_13.id)[0]
    # A minute earlier it was still the 13th in Beijing (though the same UTC day).
    assert run(datetime(2026, 5, 13, 15, 59, tzinfo=UTC))["members"] == 1
    assert gifts(session, born_13.id)[0] == [f"birthday:{born_13.id}:2026"]


def test_closed_accounts_and_a_disabled_program_get_nothing(
    client, session, make_member, member_headers, birthday_program
):
    birthday_program(coupon=True)
    closing = make_member(birthday=date(1990, 5, 14))
    assert client.delete("/api/v1/me", headers=member_headers(closing)).status_code in (200, 204)
    open_ = make_member(birthday=date(1990, 5, 14))
    # Closure erased the birthday; a closed member whose row still has one is left out too.
    session.execute(
        text("UPDATE members SET birthday = '1990-05-14' WHERE id = :id"), {"id": closing.id}
    )
    session.commit()
    assert run(MAY_14)["members"] == 1
    assert gifts(session, closing.id) == ([], [], [])
    assert gifts(session, open_.id)[0]
    birthday_program(enabled=False)
    late = make_member(birthday=date(1990, 5, 14))
    assert run(MAY_14) == {"members": 0, "points": 0, "coupons": 0, "queued": 0}
    assert gifts(session, late.id) == ([], [], [])


def test_without_stock_no_coupon_and_without_notify_no_message(
    session, make_member, birthday_program
):
    birthday_program(coupon=True, stock=1, notify=False, points=0)
    first, second = (make_member(birthday=date(1990, 5, 14)) for _ in range(2))
    assert run(MAY_14) == {"members": 2, "points": 0, "coupons": 1, "queued": 0}
    assert gifts(session, first.id) == ([], [f"birthday:{first.id}:2026"], [])
    assert gifts(session, second.id) == ([], [], [])
    birthday_program(coupon=False, points=10, notify=True)
    # A later run: the second member gets this program's points; a message goes to both,
    # once (the first member's gift was given earlier).
    assert run(MAY_14) == {"members": 2, "points": 20, "coupons": 0, "queued": 2}


def test_the_message_goes_out_in_the_morning_only_to_members_who_consented(
    session,
    make_member,
    birthday_program,
    sandbox_wx,  # noqa: F811 - the fixture
):
    birthday_program()
    # Messaging settings saved before the birthday message existed: its default template holds.
    saved = programs.get_config(session, "messaging")
    del saved["templates"]["birthday_gift"]
    programs.put_config(session, "messaging", saved, session.get(Staff, 1))
    consented = make_member(birthday=date(1990, 5, 14), nickname="阿丽")
    subscriptions.record_result(session, consented.id, ["tmpl-birthday"], [])
    silent = make_member(birthday=date(1990, 5, 14))
    assert run(MAY_14)["queued"] == 2
    ten = datetime(2026, 5, 14, 2, 0, tzinfo=UTC)  # 10:00 Beijing
    clock.freeze(ten)
    run_job("messages_dispatch")
    sent = sandbox_wx.messages()
    assert [(m["api"], m["touser"]) for m in sent] == [("subscribe_send", consented.openid)]
    assert sent[0]["data"] == {
        "name1": {"value": "阿丽"},
        "thing2": {"value": "生日快乐！生日礼已放入您的账户"},
    }
    session.expire_all()
    skipped = session.scalars(
        select(OutboxMessage).where(OutboxMessage.member_id == silent.id)
    ).one()
    assert (skipped.state, skipped.reason) == ("skipped", "no_quota_not_following")
    # Another run the same day sends nothing more.
    run(ten)
    run_job("messages_dispatch")
    assert len(sandbox_wx.messages()) == 1


def _statements_of_a_run(app, session, day: int, batch: int) -> tuple[int, dict]:
    now = MAY_14 + timedelta(days=day - 14)
    clock.freeze(now)
    with counting(app) as sent:
        counts = birthday_gifts.give_birthday_gifts(session, now, width=batch)
    return len(sent), counts


def test_twenty_thousand_members_cost_a_constant_number_of_statements_per_batch(
    app, session, birthday_program, monkeypatch
):
    birthday_program(coupon=True, stock=100_000)
    monkeypatch.setattr(programs, "CACHE_SECONDS", 3600)  # settings read once, by the warm-up
    ids = bulk_members(session, 20_000)
    session.execute(
        text(
            "UPDATE members SET birthday = CASE WHEN id % 400 = 0 THEN DATE '1990-05-14'"
            " WHEN id % 4 = 1 THEN DATE '1990-05-15' WHEN id % 4 = 2 THEN DATE '1990-05-16'"
            " ELSE DATE '1990-01-01' END"
        )
    )
    session.commit()
    assert _statements_of_a_run(app, session, 13, 5_000)[1]["members"] == 0  # warm-up
    few, few_counts = _statements_of_a_run(app, session, 14, 5_000)
    assert few_counts == {"members": 50, "points": 4_400, "coupons": 50, "queued": 50}
    many, many_counts = _statements_of_a_run(app, session, 15, 5_000)
    assert many_counts == {"members": 5_000, "points": 440_000, "coupons": 5_000, "queued": 5_000}
    # The same statements for 50 or 5,000 members due: nothing per member.
    assert few == many, (few, many)
    # Per batch of 5,000 ids (4 batches): due and locked, earned, the coupon push (template,
    # savepoint, issue, release), the outbox: 7; plus the id range.
    assert many == 4 * 7 + 1, many
    halves, _ = _statements_of_a_run(app, session, 16, 2_500)
    assert halves - many == 4 * 7, (halves, many)  # 4 more batches, 7 statements each
    assert session.scalar(select(func.count()).select_from(PointEntry)) == 10_050
    due_twice = ids[0]  # born on the 15th
    assert ledger_invariants(session, due_twice) == 88
    assert session.get(Member, ids[2]).points_balance == 0  # born on 1 January


def test_the_job_is_on_the_schedule_and_runs_once_from_the_cli(
    app, session, make_member, birthday_program
):
    from app.schedule import SCHEDULE
    from jobs.cli import jobs_cli

    assert "birthday_gifts" in SCHEDULE
    birthday_program()
    member = make_member(birthday=date(1990, 5, 14))
    result = app.test_cli_runner().invoke(
        jobs_cli, args=["run-once", "birthday_gifts", "--now", "2026-05-14T00:20:00+08:00"]
    )
    assert result.exit_code == 0, result.output
    assert gifts(session, member.id)[0] == [f"birthday:{member.id}:2026"]
    assert programs.get_config(session, "birthday")["points"] == 88
