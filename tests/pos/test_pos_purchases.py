"""Lookups, purchases and refunds from a store's POS, over real HTTP, signed."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import AuditEntry, Purchase, PurchaseLine, Refund
from app.models.points import PointEntry
from app.services.coupons import issue_coupon
from tests.concurrency import fire
from tests.conftest import ledger_invariants

pytest_plugins = ["tests.engagement_factories"]

LINES = [
    {"sku": "TEA-1", "name": "乌龙茶", "category": "drinks", "quantity": 2,
     "unit_price_fen": 1500, "amount_fen": 3000},
    {"sku": "CAKE-9", "name": "蛋糕", "category": "bakery", "quantity": 1,
     "unit_price_fen": 7000, "amount_fen": 7000},
]  # fmt: skip


def code(response) -> str:
    return response.json()["error"]["code"]


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_lookup_by_member_no_phone_and_member_code(pos, make_member, member_code, grant):
    member = make_member(phone="13900000002")
    grant(member, 42)
    by_no = pos.lookup(member_no=member.member_no)
    by_phone = pos.lookup(phone="13900000002")
    by_code = pos.lookup(member_code=member_code(member))
    for response in (by_no, by_phone, by_code):
        assert response.status_code == 200, response.text
        found = response.json()["member"]
        assert (found["id"], found["points"], found["points_balance"]) == (
            member.id,
            {"balance": 42},
            42,
        )
        assert "tier" in found and found["coupons"] == []
    assert by_no.json()["scan_id"] is None
    assert by_code.json()["scan_id"]


def test_a_member_code_is_used_up_by_a_lookup(pos, make_member, member_code):
    member = make_member()
    shown = member_code(member)
    assert pos.lookup(member_code=shown).status_code == 200
    again = pos.lookup(member_code=shown)
    assert again.status_code == 409 and code(again) == "member_code.used"
    garbage = pos.lookup(member_code="661234567890123456")
    assert garbage.status_code == 404 and code(garbage) == "member_code.unknown"


def test_lookup_of_nobody_is_404(pos):
    response = pos.lookup(member_no="nobody")
    assert response.status_code == 404 and code(response) == "member.not_found"
    two = pos.lookup(member_no="x", phone="13900000002")
    assert two.status_code == 422


def test_a_purchase_with_lines_is_stored_and_shown_to_the_member(
    pos, client, make_member, member_headers, session
):
    member = make_member()
    response = pos.buy("P-1", 10_000, member_no=member.member_no, lines=LINES)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["points_awarded"], body["balance"], body["coupons_redeemed"]) == (100, 100, [])
    purchase = session.get(Purchase, body["purchase_id"])
    assert (purchase.store_id, purchase.source, purchase.items) == (pos.store.id, "pos", 3)
    stored = session.execute(
        select(PurchaseLine).where(PurchaseLine.purchase_id == purchase.id)
    ).scalars()
    assert [(line.line_no, line.sku, line.amount_fen) for line in stored] == [
        (1, "TEA-1", 3000),
        (2, "CAKE-9", 7000),
    ]
    mine = client.get("/api/v1/me/purchases", headers=member_headers(member)).get_json()
    assert mine["items"][0]["order_no"] == "P-1"
    lines = mine["items"][0]["lines"]
    assert [(x["sku"], x["name"], x["category"], x["quantity"]) for x in lines] == [
        ("TEA-1", "乌龙茶", "drinks", 2),
        ("CAKE-9", "蛋糕", "bakery", 1),
    ]
    audit = session.execute(
        select(AuditEntry).where(AuditEntry.action == "purchase.record")
    ).scalar_one()
    assert audit.store_id == pos.store.id


def test_lines_that_do_not_add_up_are_422_and_write_nothing(pos, make_member, session):
    member = make_member()
    short = [dict(LINES[0]), dict(LINES[1], amount_fen=6999)]
    response = pos.buy("P-2", 10_000, member_no=member.member_no, lines=short)
    assert response.status_code == 422 and code(response) == "purchase.lines_mismatch"
    assert response.json()["error"]["details"] == {"lines_total_fen": 9999, "amount_fen": 10_000}
    assert count(session, Purchase) == count(session, PurchaseLine) == 0
    assert count(session, PointEntry) == 0
    # The order number is still free.
    assert pos.buy("P-2", 10_000, member_no=member.member_no, lines=LINES).status_code == 201


def test_a_purchase_by_member_code_uses_the_code_up(pos, make_member, member_code):
    member = make_member()
    shown = member_code(member)
    first = pos.buy("P-3", 5000, member_code=shown)
    assert first.status_code == 201, first.text
    assert first.json()["member_id"] == member.id
    replay = pos.buy("P-3", 5000, member_code=shown)  # a retry: the first answer
    assert replay.status_code == 201 and replay.json() == first.json()
    other = pos.buy("P-4", 5000, member_code=shown)
    assert other.status_code == 409 and code(other) == "member_code.used"


def test_a_lookup_scan_serves_the_purchase(pos, make_member, member_code):
    member = make_member()
    scan_id = pos.lookup(member_code=member_code(member)).json()["scan_id"]
    response = pos.buy("P-5", 2000, scan_id=scan_id)
    assert response.status_code == 201 and response.json()["member_id"] == member.id


def test_the_same_order_twice_is_one_purchase(pos, make_member, session):
    member = make_member()
    first = pos.buy(
        "P-6",
        8800,
        member_no=member.member_no,
    )
    again = pos.buy("P-6", 8800, member_no=member.member_no)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    other = pos.buy("P-6", 9900, member_no=member.member_no)
    assert other.status_code == 409 and code(other) == "purchase.duplicate_order"
    assert count(session, Purchase) == 1
    assert ledger_invariants(session, member.id) == 88


def test_two_identical_orders_at_once_are_one_purchase(pos, make_member, session):
    member = make_member()
    member_no = member.member_no  # read here: the threads have no app context
    calls = [lambda http: pos.buy("P-7", 12_300, http, member_no=member_no) for _ in range(8)]
    responses = fire(calls, clients=8)
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    assert len({r.json()["purchase_id"] for r in responses}) == 1
    assert count(session, Purchase) == 1
    assert ledger_invariants(session, member.id) == 123


def test_two_identical_orders_by_member_code_at_once_are_one_purchase(
    pos, make_member, member_code, session
):
    member = make_member()
    shown = member_code(member)
    calls = [lambda http: pos.buy("P-8", 4500, http, member_code=shown) for _ in range(6)]
    responses = fire(calls, clients=6)
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    assert len({r.json()["purchase_id"] for r in responses}) == 1
    assert count(session, Purchase) == 1
    assert ledger_invariants(session, member.id) == 45


def test_an_idempotency_key_replays_the_answer(pos, make_member):
    member = make_member()
    body = {"order_no": "P-9", "amount_fen": 1000, "member_no": member.member_no}
    key = {"Idempotency-Key": "pos-1"}
    first = pos.post("/pos/v1/purchases", body, extra_headers=key)
    again = pos.post("/pos/v1/purchases", body, extra_headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()


def test_coupons_are_used_on_the_order_and_listed(pos, make_member, make_template, session):
    member = make_member()
    template = make_template()  # 20 yuan off from 100
    coupon = issue_coupon(session, template.id, member.id, source="push", ref="t-1")
    session.commit()
    preview = pos.buy("P-10", 15_000, member_no=member.member_no, coupon_codes=[coupon.code],
                      dry_run=True)  # fmt: skip
    assert preview.status_code == 201, preview.text
    assert preview.json()["coupons_redeemed"] == [{"code": coupon.code, "discount_fen": 2000}]
    assert preview.json()["payable_fen"] == 13_000 and preview.json()["purchase_id"] is None
    response = pos.buy("P-10", 15_000, member_no=member.member_no, coupon_codes=[coupon.code])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["coupons_redeemed"] == [{"code": coupon.code, "discount_fen": 2000}]
    assert (body["payable_fen"], body["points_awarded"]) == (13_000, 130)
    replay = pos.buy("P-10", 15_000, member_no=member.member_no, coupon_codes=[coupon.code])
    assert replay.json() == body


def test_a_refund_by_line(pos, make_member, client, member_headers, session):
    member = make_member()
    assert pos.buy("P-11", 10_000, member_no=member.member_no, lines=LINES).status_code == 201
    cake = [{"sku": "CAKE-9", "quantity": 1, "amount_fen": 7000}]
    response = pos.refund("P-11", "R-1", 7000, lines=cake)
    assert response.status_code == 201, response.text
    assert (response.json()["points_reversed"], response.json()["balance"]) == (70, 30)
    again = pos.refund("P-11", "R-1", 7000, lines=cake)
    assert again.status_code == 201 and again.json() == response.json()
    too_much = pos.refund("P-11", "R-2", 100, lines=[{"sku": "CAKE-9", "amount_fen": 100}])
    assert too_much.status_code == 422 and code(too_much) == "refund.exceeds_purchase"
    mismatch = pos.refund("P-11", "R-3", 500, lines=[{"sku": "TEA-1", "amount_fen": 400}])
    assert mismatch.status_code == 422 and code(mismatch) == "purchase.lines_mismatch"
    unknown = pos.refund("P-11", "R-4", 100, lines=[{"sku": "NOPE", "amount_fen": 100}])
    assert unknown.status_code == 422
    assert count(session, Refund) == 1
    lines = client.get("/api/v1/me/purchases", headers=member_headers(member)).get_json()
    assert [x["refunded_fen"] for x in lines["items"][0]["lines"]] == [0, 7000]
    assert ledger_invariants(session, member.id) == 30


def test_a_key_acts_for_its_own_store_only(pos, pos_for, make_store, make_member, session):
    member = make_member()
    other = pos_for(make_store())
    assert other.buy("X-1", 5000, member_no=member.member_no).status_code == 201
    refund = pos.refund("X-1", "R-1", 1000)
    assert refund.status_code == 404 and code(refund) == "purchase.not_found"
    # The same order number is another order at another store.
    mine = pos.buy("X-1", 5000, member_no=member.member_no)
    assert mine.status_code == 201
    purchases = session.execute(select(Purchase.store_id).order_by(Purchase.id)).scalars()
    assert list(purchases) == [other.store.id, pos.store.id]


def test_the_staff_till_takes_lines_too(client, make_store, make_staff, make_member, staff_headers,
                                        scan_for, member_headers):  # fmt: skip
    store = make_store()
    clerk = make_staff("clerk", store=store)
    member = make_member()
    body = {"scan_id": scan_for(member, clerk), "order_no": "T-1", "amount_fen": 10_000}
    mismatch = client.post(
        "/staff/v1/purchases",
        json={**body, "lines": LINES[:1]},
        headers=staff_headers(clerk),
    )
    assert mismatch.status_code == 422
    assert mismatch.get_json()["error"]["code"] == "purchase.lines_mismatch"
    response = client.post(
        "/staff/v1/purchases", json={**body, "lines": LINES}, headers=staff_headers(clerk)
    )
    assert response.status_code == 201, response.get_json()
    mine = client.get("/api/v1/me/purchases", headers=member_headers(member)).get_json()
    assert [x["sku"] for x in mine["items"][0]["lines"]] == ["TEA-1", "CAKE-9"]


def test_a_dry_run_records_nothing_and_leaves_the_code_usable(pos, make_member, member_code,
                                                              session):  # fmt: skip
    member = make_member()
    shown = member_code(member)
    preview = pos.buy("P-12", 3000, member_code=shown, lines=LINES[:1], dry_run=True)
    assert preview.status_code == 201, preview.text
    body = preview.json()
    assert (body["purchase_id"], body["points_awarded"], body["dry_run"]) == (None, 30, True)
    assert count(session, Purchase) == count(session, PointEntry) == 0
    real = pos.buy("P-12", 3000, member_code=shown, lines=LINES[:1])
    assert real.status_code == 201 and real.json()["points_awarded"] == 30
