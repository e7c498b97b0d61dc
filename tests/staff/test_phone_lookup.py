"""A shopper whose phone is dead is found at the till by phone number, the last four digits
confirmed by the shopper; rate-limited per clerk and audited. Over real HTTP."""

from __future__ import annotations

import requests
from sqlalchemy import select

from app.models import AuditEntry, Scan
from tests.concurrency import fire


def _post(live_server, path, body, headers):
    return requests.post(live_server + "/staff/v1" + path, json=body, headers=headers, timeout=30)


def _code(response) -> str:
    return response.json()["error"]["code"]


def _start(live_server, headers, phone="13800138000"):
    return _post(live_server, "/scans/phone", {"phone": phone}, headers)


def _confirm(live_server, headers, lookup_id, last_four):
    return _post(
        live_server, f"/scans/phone/{lookup_id}/confirm", {"last_four": last_four}, headers
    )


def _trail(session) -> list[tuple]:
    session.expire_all()
    entries = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
    return [(e.action, e.staff_id, e.store_id, e.target_id) for e in entries]


def test_a_clerk_finds_the_shopper_by_phone_once_they_confirm_the_last_four(
    live_server, session, make_store, make_staff, make_member, staff_headers
):
    home, here = make_store(), make_store()
    member = make_member(store=home, phone="13800138000", nickname="Ada")
    clerk = make_staff("clerk", store=here)
    headers = staff_headers(clerk)

    started = _start(live_server, headers, phone="138-0013-8000")
    assert started.status_code == 201, started.json()
    pending = started.json()
    assert pending["phone_masked"] == "138****8000" and pending["attempts_left"] == 3
    # Nothing about the member before the shopper confirms: no name, no id, no points.
    assert "Ada" not in started.text and "member" not in pending

    wrong = _confirm(live_server, headers, pending["lookup_id"], "8001")
    assert (wrong.status_code, _code(wrong)) == (422, "phone_lookup.mismatch")
    assert wrong.json()["error"]["details"]["attempts_left"] == 2

    confirmed = _confirm(live_server, headers, pending["lookup_id"], "8000")
    assert confirmed.status_code == 201, confirmed.json()
    at_till = confirmed.json()
    assert at_till["member"]["id"] == member.id and at_till["member"]["nickname"] == "Ada"
    assert at_till["member"]["phone_masked"] == "138****8000"
    scan = session.get(Scan, at_till["scan_id"])
    assert (scan.via, scan.member_code, scan.staff_id, scan.store_id) == (
        "phone",
        None,
        clerk.id,
        here.id,
    )
    # The scan serves the sale as a scan of the member code does.
    sale = _post(
        live_server,
        "/purchases",
        {"scan_id": at_till["scan_id"], "order_no": "PH-1", "amount_fen": 5000},
        headers,
    )
    assert sale.status_code == 201, sale.json()
    assert sale.json()["balance"] == sale.json()["points_awarded"] > 0
    # A lookup confirms once.
    again = _confirm(live_server, headers, pending["lookup_id"], "8000")
    assert (again.status_code, _code(again)) == (404, "phone_lookup.unknown")

    trail = [t for t in _trail(session) if t[0].startswith("member.phone_lookup")]
    assert trail == [
        ("member.phone_lookup", clerk.id, here.id, str(member.id)),
        ("member.phone_lookup_mismatch", clerk.id, here.id, str(member.id)),
        ("member.phone_lookup_confirmed", clerk.id, here.id, str(member.id)),
    ]


def test_a_number_that_is_no_member_is_404_and_still_audited(
    live_server, session, make_store, make_staff, make_member, staff_headers
):
    from app.services.members import account_closure

    clerk = make_staff("clerk", store=make_store())
    gone = make_member(phone="13900000001")
    account_closure.close_account(session, gone.id)
    session.commit()
    for phone in ("13900000002", "13900000001"):
        missing = _start(live_server, staff_headers(clerk), phone=phone)
        assert (missing.status_code, _code(missing)) == (404, "member.not_found")
    session.expire_all()
    found = session.execute(
        select(AuditEntry.details).where(AuditEntry.action == "member.phone_lookup")
    ).scalars()
    assert [d["found"] for d in found] == [False, False]


def test_three_wrong_confirmations_end_the_lookup(
    live_server, make_store, make_staff, make_member, staff_headers
):
    make_member(phone="13800138000")
    headers = staff_headers(make_staff("clerk", store=make_store()))
    lookup_id = _start(live_server, headers).json()["lookup_id"]
    lefts = [
        _confirm(live_server, headers, lookup_id, "0000").json()["error"]["details"][
            "attempts_left"
        ]
        for _ in range(3)
    ]
    assert lefts == [2, 1, 0]
    late = _confirm(live_server, headers, lookup_id, "8000")
    assert (late.status_code, _code(late)) == (404, "phone_lookup.unknown")


def test_a_lookup_is_its_clerks_only(
    live_server, make_store, make_staff, make_member, staff_headers
):
    make_member(phone="13800138000")
    store = make_store()
    mine, colleague = make_staff("clerk", store=store), make_staff("clerk", store=store)
    lookup_id = _start(live_server, staff_headers(mine)).json()["lookup_id"]
    theirs = _confirm(live_server, staff_headers(colleague), lookup_id, "8000")
    assert (theirs.status_code, _code(theirs)) == (404, "phone_lookup.unknown")
    assert _confirm(live_server, staff_headers(mine), lookup_id, "8000").status_code == 201
    for bad_id in ("0" * 32, "not-a-lookup", "x" * 300):
        unknown = _confirm(live_server, staff_headers(mine), bad_id, "8000")
        assert (unknown.status_code, _code(unknown)) == (404, "phone_lookup.unknown")


def test_lookups_are_rate_limited_per_clerk(
    live_server, make_store, make_staff, make_member, staff_headers
):
    make_member(phone="13800138000")
    store = make_store()
    clerk, colleague = make_staff("clerk", store=store), make_staff("clerk", store=store)
    statuses = [
        _start(live_server, staff_headers(clerk), phone=f"1380013{n:04d}").status_code
        for n in range(7995, 8005)
    ]
    assert sorted(statuses) == [201] + [404] * 9
    limited = _start(live_server, staff_headers(clerk))
    assert (limited.status_code, _code(limited)) == (429, "rate.limited")
    assert int(limited.headers["Retry-After"]) > 0
    assert _start(live_server, staff_headers(colleague)).status_code == 201


def test_who_may_look_up_and_what_is_refused(
    live_server, make_store, make_staff, make_member, staff_headers, member_headers
):
    shopper = make_member(phone="13800138000")
    marketer = staff_headers(make_staff("marketer"))
    no_store = _start(live_server, marketer)
    assert (no_store.status_code, _code(no_store)) == (403, "staff.store_required")
    assert _start(live_server, member_headers(shopper)).status_code == 401
    assert _start(live_server, {}).status_code == 401
    clerk = staff_headers(make_staff("clerk", store=make_store()))
    for phone in ("", "abc", "1" * 40, "138\x000013800", 13800138000):
        bad = _post(live_server, "/scans/phone", {"phone": phone}, clerk)
        assert (bad.status_code, _code(bad)) == (422, "request.invalid"), phone
    lookup_id = _start(live_server, clerk).json()["lookup_id"]
    for digits in ("", "800", "80000", "8o00", 8000):
        bad = _confirm(live_server, clerk, lookup_id, digits)
        assert (bad.status_code, _code(bad)) == (422, "request.invalid"), digits
    # Malformed confirmations are not counted as wrong digits.
    assert _confirm(live_server, clerk, lookup_id, "8000").status_code == 201


def test_eight_confirmations_at_once_give_one_scan(
    live_server, session, make_store, make_staff, make_member, staff_headers
):
    make_member(phone="13800138000")
    headers = staff_headers(make_staff("clerk", store=make_store()))
    lookup_id = _start(live_server, headers).json()["lookup_id"]
    url = f"{live_server}/staff/v1/scans/phone/{lookup_id}/confirm"
    answers = fire(
        [lambda s: s.post(url, json={"last_four": "8000"}, headers=headers, timeout=30)] * 8, 8
    )
    assert sorted(a.status_code for a in answers) == [201] + [404] * 7
    session.expire_all()
    assert session.query(Scan).filter(Scan.via == "phone").count() == 1
