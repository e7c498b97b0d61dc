"""Purchases, refunds and adjustments at the till."""

from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import select

from app.models import AuditEntry, Member
from app.models.points import PointEntry
from tests.conftest import error_code, ledger_invariants


@pytest.fixture
def till(make_store, make_staff, make_member, staff_headers, scan_for):
    store = make_store()
    clerk = make_staff("clerk", store=store)
    member = make_member(store=store)

    class Till:
        def __init__(self):
            self.store, self.clerk, self.member = store, clerk, member
            self.headers = staff_headers(clerk)

            self._scan_id = None

        def scan(self):
            # One scan serves the whole visit (a second scan of the same code is refused).
            if self._scan_id is None:
                self._scan_id = scan_for(member, clerk)
            return self._scan_id

    return Till()


def buy(client, t, order_no, amount_fen, scan_id=None, **extra):
    body = {"scan_id": scan_id or t.scan(), "order_no": order_no, "amount_fen": amount_fen}
    return client.post("/staff/v1/purchases", json=body, headers={**t.headers, **extra})


def refund(client, t, order_no, refund_no, amount_fen):
    return client.post(
        f"/staff/v1/purchases/{order_no}/refunds",
        json={"refund_no": refund_no, "amount_fen": amount_fen},
        headers=t.headers,
    )


def test_a_purchase_earns_points_by_the_program(client, till, session):
    response = buy(client, till, "A-1", 12_345)  # 123.45 yuan at 1 point per yuan, floor
    assert response.status_code == 201
    body = response.get_json()
    assert (body["points_awarded"], body["balance"]) == (123, 123)
    assert ledger_invariants(session, till.member.id) == 123
    audit = session.execute(
        select(AuditEntry).where(AuditEntry.action == "purchase.record")
    ).scalar_one()
    assert (audit.staff_id, audit.store_id) == (till.clerk.id, till.store.id)
    assert (audit.target_type, audit.target_id) == ("purchase", str(body["purchase_id"]))
    assert audit.details == {"order_no": "A-1", "amount_fen": 12_345, "points": 123}


def test_the_same_order_again_is_a_replay_and_earns_nothing(client, till, session):
    scan_id = till.scan()
    first = buy(client, till, "A-1", 10_000, scan_id)
    again = buy(client, till, "A-1", 10_000, scan_id)
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    other = buy(client, till, "A-1", 20_000, scan_id)
    assert other.status_code == 409
    assert error_code(other) == "purchase.duplicate_order"
    assert ledger_invariants(session, till.member.id) == 100


def test_idempotency_key_replays_a_purchase(client, till):
    scan_id = till.scan()
    first = buy(client, till, "K-1", 500, scan_id, **{"Idempotency-Key": "till-1"})
    second = buy(client, till, "K-1", 500, scan_id, **{"Idempotency-Key": "till-1"})
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json() == first.get_json()
    mismatch = buy(client, till, "K-2", 500, scan_id, **{"Idempotency-Key": "till-1"})
    assert error_code(mismatch) == "idempotency.mismatch"


def test_purchase_needs_a_valid_scan_of_this_clerk(client, till, make_staff, staff_headers):
    assert error_code(buy(client, till, "B-1", 100, "0" * 32)) == "scan.not_found"
    other = make_staff("clerk", store=till.store)
    response = client.post(
        "/staff/v1/purchases",
        json={"scan_id": till.scan(), "order_no": "B-2", "amount_fen": 100},
        headers=staff_headers(other),
    )
    assert response.status_code == 404
    bad = client.post(
        "/staff/v1/purchases",
        json={"scan_id": "x", "order_no": "", "amount_fen": -5},
        headers=till.headers,
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["details"]) == {"order_no", "amount_fen"}
    floaty = client.post(
        "/staff/v1/purchases",
        json={"scan_id": "x", "order_no": "F", "amount_fen": 1.5},
        headers=till.headers,
    )
    assert floaty.status_code == 422


def test_tier_multiplier_applies_and_upgrade_is_immediate(client, till, session):
    assert buy(client, till, "T-1", 100_000).get_json()["points_awarded"] == 1000
    session.expire_all()
    assert session.get(Member, till.member.id).tier_code == "silver"
    # Silver earns 1.2 points per yuan from the next purchase on.
    assert buy(client, till, "T-2", 10_000).get_json()["points_awarded"] == 120


def test_partial_refunds_reverse_in_proportion_and_the_whole_refund_exactly(client, till, session):
    assert buy(client, till, "R-1", 999).get_json()["points_awarded"] == 9
    first = refund(client, till, "R-1", "r1", 333).get_json()
    second = refund(client, till, "R-1", "r2", 333).get_json()
    third = refund(client, till, "R-1", "r3", 333).get_json()
    assert [first["points_reversed"], second["points_reversed"], third["points_reversed"]] == [
        3,
        3,
        3,
    ]
    assert third["refunded_fen"] == 999
    assert ledger_invariants(session, till.member.id) == 0
    too_much = refund(client, till, "R-1", "r4", 1)
    assert too_much.status_code == 422
    assert error_code(too_much) == "refund.exceeds_purchase"


def test_a_refund_number_is_used_once(client, till):
    buy(client, till, "R-2", 10_000)
    first = refund(client, till, "R-2", "r1", 5_000)
    again = refund(client, till, "R-2", "r1", 5_000)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    other = refund(client, till, "R-2", "r1", 4_000)
    assert other.status_code == 409 and error_code(other) == "refund.duplicate"
    assert error_code(refund(client, till, "NOPE", "r1", 1)) == "purchase.not_found"


def test_refund_of_spent_points_goes_negative_blocks_spending_and_is_repaid(
    client, till, session, make_staff, staff_headers
):
    buy(client, till, "N-1", 10_000)  # 100 points
    manager = staff_headers(make_staff("manager", store=till.store))
    spent = client.post(
        f"/staff/v1/members/{till.member.id}/points/adjustments",
        json={"delta": -90, "reason": "redeemed a gift"},
        headers=manager,
    )
    assert spent.status_code == 201
    back = refund(client, till, "N-1", "r1", 10_000).get_json()
    assert (back["points_reversed"], back["balance"]) == (100, -90)
    assert ledger_invariants(session, till.member.id) == -90
    blocked = client.post(
        f"/staff/v1/members/{till.member.id}/points/adjustments",
        json={"delta": -1, "reason": "test"},
        headers=manager,
    )
    assert error_code(blocked) == "points.insufficient"
    assert buy(client, till, "N-2", 15_000).get_json()["balance"] == 60
    assert ledger_invariants(session, till.member.id) == 60


def test_refunds_only_at_the_store_of_the_order(
    client, till, make_store, make_staff, staff_headers
):
    buy(client, till, "S-1", 1000)
    elsewhere = staff_headers(make_staff("clerk", store=make_store()))
    response = client.post(
        "/staff/v1/purchases/S-1/refunds",
        json={"refund_no": "r", "amount_fen": 1},
        headers=elsewhere,
    )
    assert response.status_code == 404


def test_adjustments_need_a_manager_a_reason_and_the_members_store(
    client, till, session, make_store, make_staff, staff_headers
):
    url = f"/staff/v1/members/{till.member.id}/points/adjustments"
    clerk = client.post(url, json={"delta": 10, "reason": "gift"}, headers=till.headers)
    assert clerk.status_code == 403
    manager = make_staff("manager", store=till.store)
    ok = client.post(url, json={"delta": 10, "reason": "goodwill"}, headers=staff_headers(manager))
    assert ok.status_code == 201
    assert ok.get_json()["note"] == "goodwill"
    entry = session.execute(
        select(PointEntry).where(PointEntry.reason == "adjustment")
    ).scalar_one()
    assert entry.staff_id == manager.id
    assert session.execute(
        select(AuditEntry).where(AuditEntry.action == "points.adjust")
    ).scalar_one()
    assert (
        client.post(
            url, json={"delta": 0, "reason": "x"}, headers=staff_headers(manager)
        ).status_code
        == 422
    )
    foreign = staff_headers(make_staff("manager", store=make_store()))
    assert client.post(url, json={"delta": 5, "reason": "nope"}, headers=foreign).status_code == 404
    assert (
        client.post(
            "/staff/v1/members/999999/points/adjustments",
            json={"delta": 5, "reason": "x1"},
            headers=staff_headers(manager),
        ).status_code
        == 404
    )


def test_member_sees_entries_newest_first_with_paging(client, till, member_headers):
    for i in range(3):
        buy(client, till, f"P-{i}", 1000 * (i + 1))
    headers = member_headers(till.member)
    first = client.get("/api/v1/me/points/entries?limit=2", headers=headers).get_json()
    assert [e["delta"] for e in first["items"]] == [30, 20]
    rest = client.get(
        f"/api/v1/me/points/entries?limit=2&cursor={first['next_cursor']}", headers=headers
    )
    assert [e["delta"] for e in rest.get_json()["items"]] == [10]
    assert rest.get_json()["next_cursor"] is None
    assert (
        client.get("/api/v1/me/points/entries?cursor=garbage", headers=headers).status_code == 422
    )
    assert client.get("/api/v1/me/points/entries?limit=101", headers=headers).status_code == 422


def test_points_program_admin(client, make_staff, staff_headers):
    admin = staff_headers(make_staff("admin"))
    current = client.get("/staff/v1/admin/programs/points", headers=admin).get_json()
    assert current["expiry"]["mode"] == "calendar_year_end"
    current["points_per_yuan"] = 2
    current["expiry"] = {"mode": "rolling_days", "days": 180}
    saved = client.put("/staff/v1/admin/programs/points", json=current, headers=admin)
    assert saved.status_code == 200 and saved.get_json()["points_per_yuan"] == 2
    current["tiers"] = [{"code": "a", "name": "A", "threshold": 5, "multiplier_percent": 100}]
    bad = client.put("/staff/v1/admin/programs/points", json=current, headers=admin)
    assert bad.status_code == 422
    marketer = staff_headers(make_staff("marketer"))
    assert client.get("/staff/v1/admin/programs/points", headers=marketer).status_code == 403


def test_the_same_purchase_posted_ten_times_at_once_earns_once(live_server, till, session):
    scan_id = till.scan()
    barrier = threading.Barrier(10)
    answers: list[requests.Response] = []

    def post():
        barrier.wait()
        answers.append(
            requests.post(
                live_server + "/staff/v1/purchases",
                json={"scan_id": scan_id, "order_no": "RUSH-1", "amount_fen": 5000},
                headers=till.headers,
                timeout=30,
            )
        )

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [201] * 10
    assert {a.json()["points_awarded"] for a in answers} == {50}
    assert ledger_invariants(session, till.member.id) == 50


def test_purchases_at_once_that_reach_a_tier_together_upgrade_the_member(
    live_server, till, session
):
    """Twelve ¥100 orders of one member at once: none reaches silver (1,000 points) alone,
    together they do. The tier is decided after each earning on the member's locked row (one
    statement), so the purchase that crosses the threshold sees the others' points and upgrades;
    every order earns once, at the tier the member had when it was rung up."""
    from tests.concurrency import fire

    scan_id = till.scan()
    url = live_server + "/staff/v1/purchases"
    calls = [
        lambda s, i=i: s.post(
            url,
            json={"scan_id": scan_id, "order_no": f"TIER-{i}", "amount_fen": 10_000},
            headers=till.headers,
            timeout=30,
        )
        for i in range(12)
    ]
    answers = fire(calls, clients=12)
    assert [a.status_code for a in answers] == [201] * 12
    awarded = [a.json()["points_awarded"] for a in answers]
    assert set(awarded) <= {100, 120}
    session.expire_all()
    assert session.get(Member, till.member.id).tier_code == "silver"
    assert ledger_invariants(session, till.member.id) == sum(awarded)


def test_thirty_concurrent_spends_never_take_the_balance_below_zero(
    live_server, till, session, grant, make_staff, staff_headers
):
    grant(till.member, 100)
    manager = staff_headers(make_staff("manager", store=till.store))
    url = f"{live_server}/staff/v1/members/{till.member.id}/points/adjustments"
    barrier = threading.Barrier(30)
    answers: list[requests.Response] = []

    def spend():
        barrier.wait()
        answers.append(
            requests.post(
                url, json={"delta": -7, "reason": "concurrent"}, headers=manager, timeout=30
            )
        )

    threads = [threading.Thread(target=spend) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = [a.status_code for a in answers]
    assert set(codes) <= {201, 409}
    assert codes.count(201) == 14  # 14 x 7 = 98 <= 100 < 105
    assert all(
        a.json()["error"]["code"] == "points.insufficient" for a in answers if a.status_code == 409
    )
    assert ledger_invariants(session, till.member.id) == 2


def test_fifteen_purchases_of_a_million_yuan_are_all_recorded_and_the_balance_is_exact(
    client, till, session, make_staff, staff_headers, member_headers
):
    """At 100 points per yuan a ¥1,000,000 order earns 100,000,000 points (150,000,000 once
    gold): the balance passes 2^31 at the 15th. Every order is recorded, nothing is a 500, and
    the balance, the entries and the lots agree to the point. Issue 14, item 3."""
    admin = staff_headers(make_staff("admin"))
    program = client.get("/staff/v1/admin/programs/points", headers=admin).get_json()
    program["points_per_yuan"] = 100
    assert client.put("/staff/v1/admin/programs/points", json=program, headers=admin).status_code
    expected = 0
    for i in range(15):
        response = buy(client, till, f"BIG-{i}", 100_000_000)
        assert response.status_code == 201, (i, response.get_json())
        awarded = 100_000_000 if i == 0 else 150_000_000  # gold (150%) from the second on
        expected += awarded
        assert response.get_json()["points_awarded"] == awarded
        assert response.get_json()["balance"] == expected
    assert expected == 2_200_000_000 > 2**31
    assert ledger_invariants(session, till.member.id) == expected
    me = client.get("/api/v1/me", headers=member_headers(till.member)).get_json()
    assert me["points"]["balance"] == expected
    entries = client.get("/api/v1/me/points/entries", headers=member_headers(till.member))
    assert entries.get_json()["items"][0]["balance_after"] == expected
    # A whole refund of the last order takes back exactly what it earned.
    back = refund(client, till, "BIG-14", "BIG-14-r", 100_000_000)
    assert back.status_code == 201, back.get_json()
    assert back.get_json()["points_reversed"] == 150_000_000
    assert ledger_invariants(session, till.member.id) == expected - 150_000_000


def _purchases(session) -> int:
    from app.models import Purchase

    session.expire_all()
    return session.query(Purchase).count()


def test_a_zero_fen_purchase_is_refused_and_changes_nothing(client, till, session):
    """Nothing paid is no purchase: recorded, it counted in every figure (buyers, frequency,
    the model) as one. Issue 14, item 10."""
    response = buy(client, till, "Z-1", 0)
    assert response.status_code == 422
    assert error_code(response) == "request.invalid"
    assert set(response.get_json()["error"]["details"]) == {"amount_fen"}
    assert _purchases(session) == 0


def test_paid_at_before_2000_or_before_the_store_existed_is_refused(client, till, session):
    """A back-dated order older than the store (or than 2000, where business day numbers
    start) is a typo at the till, not a sale: 422, nothing recorded. Issue 14, item 2."""
    from datetime import UTC, datetime, timedelta

    from app.models import Store

    now = datetime.now(UTC)
    session.get(Store, till.store.id).created_at = now - timedelta(days=30)
    session.get(Member, till.member.id).joined_at = now - timedelta(days=60)
    session.commit()
    scan_id = till.scan()
    for order_no, paid_at in (
        ("P-1", "1999-12-31T12:00:00+08:00"),
        ("P-2", "1970-01-01T00:00:00+00:00"),
        ("P-3", (now - timedelta(days=31)).isoformat()),  # the day before the store opened
    ):
        response = client.post(
            "/staff/v1/purchases",
            json={
                "scan_id": scan_id,
                "order_no": order_no,
                "amount_fen": 10_000,
                "paid_at": paid_at,
            },
            headers=till.headers,
        )
        assert response.status_code == 422, (order_no, response.get_json())
        assert error_code(response) == "request.invalid"
        assert set(response.get_json()["error"]["details"]) == {"paid_at"}
    assert _purchases(session) == 0
    # The store's first day is fine.
    response = client.post(
        "/staff/v1/purchases",
        json={
            "scan_id": scan_id,
            "order_no": "P-4",
            "amount_fen": 10_000,
            "paid_at": (now - timedelta(days=30)).isoformat(),
        },
        headers=till.headers,
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["points_awarded"] == 100


def test_a_purchase_paid_before_the_member_joined_is_recorded_without_points(client, till, session):
    """A receipt from before the shopper was a member is a real sale (it stays in the store's
    figures and the member's history), but points are a member's benefit: it earns none and
    moves no tier. A receipt from the day they joined earns as usual. Issue 14, item 10."""
    from datetime import UTC, datetime, timedelta

    from app import clock
    from app.models import Store

    now = datetime.now(UTC)
    session.get(Store, till.store.id).created_at = now - timedelta(days=400)
    session.get(Member, till.member.id).joined_at = now - timedelta(days=3)
    session.commit()
    scan_id = till.scan()

    def post(order_no, paid_at):
        return client.post(
            "/staff/v1/purchases",
            json={
                "scan_id": scan_id,
                "order_no": order_no,
                "amount_fen": 500_000,
                "paid_at": paid_at.isoformat(),
            },
            headers=till.headers,
        )

    before = post("J-1", now - timedelta(days=10))
    assert before.status_code == 201, before.get_json()
    assert (before.get_json()["points_awarded"], before.get_json()["balance"]) == (0, 0)
    session.expire_all()
    assert session.get(Member, till.member.id).tier_code in ("", "normal")
    assert _purchases(session) == 1
    # Joined three days ago (business day): a purchase earlier that same day still earns.
    joined_day_start = clock.business_day_start(clock.business_date(now - timedelta(days=3)))
    same_day = post("J-2", joined_day_start + timedelta(minutes=1))
    assert same_day.status_code == 201
    assert same_day.get_json()["points_awarded"] == 5_000
    assert ledger_invariants(session, till.member.id) == 5_000
