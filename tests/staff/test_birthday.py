"""The birthday program's admin page (marketer+), a store's correction of a member's birthday
(manager+, audited) and the member's set-once birthday, also under concurrent requests."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.models import AuditEntry, Member
from app.services import programs
from tests.concurrency import fire, member_auth
from tests.conftest import error_code

pytest_plugins = ["tests.engagement_factories"]
PAGE = "/staff/v1/admin/programs/birthday"


def test_marketing_sets_the_program_and_other_roles_are_refused(
    client, session, make_staff, staff_headers, make_template
):
    marketer = staff_headers(make_staff("marketer"))
    assert client.get(PAGE, headers=marketer).get_json() == {
        "enabled": False,
        "when": "day",
        "points": 0,
        "coupon_template_id": None,
        "notify": True,
    }
    template = make_template(claimable=False)
    config = {
        "enabled": True,
        "when": "week",
        "points": 188,
        "coupon_template_id": template.id,
        "notify": False,
    }
    saved = client.put(PAGE, json=config, headers=marketer)
    assert saved.status_code == 200 and saved.get_json() == config
    assert client.get(PAGE, headers=staff_headers(make_staff("admin"))).get_json() == config
    audit = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "program.birthday.update")
    )
    assert [entry.details["points"] for entry in audit] == [188]
    for role in ("clerk", "manager"):
        headers = staff_headers(make_staff(role))
        assert client.get(PAGE, headers=headers).status_code == 403
        assert client.put(PAGE, json=config, headers=headers).status_code == 403


@pytest.mark.parametrize(
    "change, field",
    [
        ({"when": "year"}, "when"),
        ({"points": -1}, "points"),
        ({"points": "10"}, "points"),
        ({"points": 10**7}, "points"),
        ({"enabled": "sometimes"}, "enabled"),
        ({"coupon_template_id": 999_999}, "coupon_template_id"),
        ({"points": 0, "coupon_template_id": None}, "points"),  # enabled and gives nothing
        ({"gift": "cake"}, "gift"),
    ],
)
def test_a_bad_program_is_422_and_changes_nothing(
    client, session, make_staff, staff_headers, change, field
):
    marketer = staff_headers(make_staff("marketer"))
    good = {"enabled": True, "when": "day", "points": 50, "coupon_template_id": None}
    assert client.put(PAGE, json=good, headers=marketer).status_code == 200
    bad = client.put(PAGE, json={**good, **change}, headers=marketer)
    assert bad.status_code == 422, bad.get_json()
    assert error_code(bad) == "request.invalid"
    assert field in bad.get_json()["error"]["details"]
    programs.forget_cached()
    assert client.get(PAGE, headers=marketer).get_json() == {**good, "notify": True}


def test_a_manager_corrects_a_birthday_audited_and_the_member_still_cannot(
    client, session, make_store, make_staff, staff_headers, make_member, member_headers
):
    store, other_store = make_store(), make_store()
    member = make_member(store=store, birthday=date(1990, 5, 1))
    manager = make_staff("manager", store=store)
    path = f"/staff/v1/members/{member.id}"
    corrected = client.patch(path, json={"birthday": "1990-05-10"}, headers=staff_headers(manager))
    assert corrected.status_code == 200, corrected.get_json()
    assert corrected.get_json()["birthday"] == "1990-05-10"
    session.expire_all()
    assert session.get(Member, member.id).birthday == date(1990, 5, 10)
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "member.birthday_correct")
    ).one()
    assert (entry.staff_id, entry.store_id, entry.target_id) == (
        manager.id,
        store.id,
        str(member.id),
    )
    assert entry.details == {"birthday": "1990-05-10", "was": "1990-05-01"}
    # The member cannot move it again; the same date is no change and fine.
    me = member_headers(member)
    locked = client.patch("/api/v1/me", json={"birthday": "1990-06-01"}, headers=me)
    assert locked.status_code == 409 and error_code(locked) == "member.birthday_locked"
    assert (
        client.patch("/api/v1/me", json={"birthday": "1990-05-10"}, headers=me).status_code == 200
    )
    # Another store's manager does not see the member; a marketer corrects any member.
    foreign = staff_headers(make_staff("manager", store=other_store))
    assert client.patch(path, json={"birthday": "1991-01-01"}, headers=foreign).status_code == 404
    marketer = staff_headers(make_staff("marketer"))
    assert client.patch(path, json={"birthday": "1991-01-01"}, headers=marketer).status_code == 200
    session.expire_all()
    assert session.get(Member, member.id).birthday == date(1991, 1, 1)


def test_clerks_bad_dates_and_closed_accounts_are_refused(
    client, session, make_store, make_staff, staff_headers, make_member, member_headers
):
    store = make_store()
    member = make_member(store=store, birthday=date(1990, 5, 1))
    path = f"/staff/v1/members/{member.id}"
    clerk = staff_headers(make_staff("clerk", store=store))
    refused = client.patch(path, json={"birthday": "1990-05-10"}, headers=clerk)
    assert refused.status_code == 403 and error_code(refused) == "auth.forbidden"
    manager = staff_headers(make_staff("manager", store=store))
    for body in ({"birthday": "2999-01-01"}, {"birthday": "1990-02-30"}, {}, {"birthday": None}):
        bad = client.patch(path, json=body, headers=manager)
        assert bad.status_code == 422 and error_code(bad) == "request.invalid", body
    assert client.delete("/api/v1/me", headers=member_headers(member)).status_code in (200, 204)
    gone = client.patch(path, json={"birthday": "1990-05-10"}, headers=manager)
    assert gone.status_code == 404 and error_code(gone) == "member.not_found"
    unknown = client.patch(
        "/staff/v1/members/999999", json={"birthday": "1990-05-10"}, headers=manager
    )
    assert unknown.status_code == 404
    session.expire_all()
    assert session.get(Member, member.id).birthday is None  # erased at closure, not reset
    assert (
        session.scalars(
            select(AuditEntry).where(AuditEntry.action == "member.birthday_correct")
        ).all()
        == []
    )


def test_two_first_settings_at_once_only_one_lands(live_server, session, make_member):
    """The set-once rule is a conditional update: of two members' apps setting different
    birthdays at the same moment, one wins, the other is told it is locked."""
    members = [make_member() for _ in range(10)]
    session.commit()
    calls = []
    for m in members:
        auth = member_auth(m.id)
        for day in ("1990-05-01", "1991-06-02"):
            calls.append(
                lambda s, auth=auth, day=day: s.patch(
                    f"{live_server}/api/v1/me", json={"birthday": day}, headers=auth
                )
            )
    responses = fire(calls, clients=20)
    session.expire_all()
    for n, m in enumerate(members):
        first, second = responses[2 * n], responses[2 * n + 1]
        assert sorted([first.status_code, second.status_code]) == [200, 409]
        won = first if first.status_code == 200 else second
        assert session.get(Member, m.id).birthday.isoformat() == won.json()["birthday"]
