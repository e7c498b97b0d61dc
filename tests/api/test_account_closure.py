"""Closing an account (注销, DELETE /api/v1/me and DELETE /staff/v1/members/{id}): the person's
data is erased, their tokens stop working, open coupons are voided and queued messages cancelled,
while the ledger and the orders stay and still add up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app import clock
from app.models import AuditEntry, Member
from app.models.coupons import Coupon
from app.models.messaging import OutboxMessage, SubscriptionQuota
from app.models.points import PointEntry
from app.services.messaging import audiences
from tests.conftest import error_code, ledger_invariants

pytest_plugins = ["tests.engagement_factories"]


def test_a_member_closes_the_account_and_only_the_books_remain(
    client,
    login,
    make_store,
    make_staff,
    staff_headers,
    scan_for,
    session,
    make_template,
):
    store = make_store()
    body, headers = login("dora", store_id=store.id)
    member_id = body["member"]["id"]
    phone = client.post(
        "/api/v1/me/phone", json={"code": "test-phone:13800138000"}, headers=headers
    )
    assert phone.status_code == 200, phone.get_json()
    assert (
        client.patch("/api/v1/me", json={"birthday": "1990-05-01"}, headers=headers).status_code
        == 200
    )
    member = session.get(Member, member_id)
    clerk = make_staff("clerk", store=store)
    bought = client.post(
        "/staff/v1/purchases",
        json={"scan_id": scan_for(member, clerk), "order_no": "A-1", "amount_fen": 12_300},
        headers=staff_headers(clerk),
    )
    assert bought.status_code == 201, bought.get_json()
    template = make_template()
    claimed = client.post(f"/api/v1/coupons/{template.id}/claims", headers=headers)
    assert claimed.status_code == 201, claimed.get_json()
    coupon_code = claimed.get_json()["coupon"]["code"]
    session.add(SubscriptionQuota(member_id=member_id, template_id="TPL", available=2))
    session.add(
        OutboxMessage(
            purpose="points_expiry",
            member_id=member_id,
            dedupe_key="2027-01-01",
            state="pending",
            not_before=clock.now() + timedelta(hours=1),
        )
    )
    session.commit()
    member_no = member.member_no
    balance = member.points_balance
    assert balance > 0
    old_code = client.get("/api/v1/me/member-code", headers=headers).get_json()["code"]

    closed = client.delete("/api/v1/me", headers=headers)
    assert closed.status_code == 204

    # The token (and any other of this member's) is refused at once, on every path.
    for method, path in [
        ("get", "/api/v1/me"),
        ("post", "/api/v1/checkins"),
        ("get", "/api/v1/me/coupons"),
        ("delete", "/api/v1/me"),
    ]:
        response = getattr(client, method)(path, headers=headers)
        assert response.status_code == 401, (path, response.get_json())
        assert error_code(response) == "auth.invalid_token"

    session.expire_all()
    gone = session.get(Member, member_id)
    assert gone.closed_at is not None
    assert (gone.openid, gone.unionid, gone.session_key, gone.phone, gone.birthday) == (None,) * 5
    assert (gone.nickname, gone.avatar_url, gone.gender) == ("", "", 0)
    # The books: member number, balance and every entry stay, and still add up.
    assert gone.member_no == member_no and gone.points_balance == balance
    assert (
        session.scalar(
            select(func.count()).select_from(PointEntry).where(PointEntry.member_id == member_id)
        )
        >= 1
    )
    ledger_invariants(session, member_id)
    coupon = session.scalar(select(Coupon).where(Coupon.code == coupon_code))
    assert coupon.status == "voided"
    assert (
        session.scalar(select(OutboxMessage.state).where(OutboxMessage.member_id == member_id))
        == "cancelled"
    )
    assert (
        session.scalar(
            select(func.count())
            .select_from(SubscriptionQuota)
            .where(SubscriptionQuota.member_id == member_id)
        )
        == 0
    )

    # The till: the old member code, the voided coupon and the member number find nobody.
    scan = client.post(
        "/staff/v1/scans", json={"member_code": old_code}, headers=staff_headers(clerk)
    )
    assert scan.status_code == 404 and error_code(scan) == "member_code.unknown"
    redeem = client.post(
        "/staff/v1/coupons/redemptions",
        json={"coupon_code": coupon_code, "order_no": "A-2", "order_amount_fen": 20_000},
        headers=staff_headers(clerk),
    )
    assert redeem.status_code == 404 and error_code(redeem) == "coupon.not_found"
    manager = make_staff("manager", store=store)
    found = client.get(
        "/staff/v1/members", query_string={"member_no": member_no}, headers=staff_headers(manager)
    )
    assert found.status_code == 200 and found.get_json()["items"] == []
    # Nobody's audience, whatever the filter.
    assert audiences.count(session, {"store_ids": [store.id]}) == 0

    # The same WeChat user signing in again is a new member, with nothing of the old one.
    again = client.post("/api/v1/auth/login", json={"code": "test:dora"})
    assert again.status_code == 200
    fresh = again.get_json()
    assert fresh["is_new"] is True and fresh["member"]["id"] != member_id
    assert fresh["member"]["points"]["balance"] == 0 and fresh["member"]["phone_masked"] is None


def test_a_manager_closes_an_account_in_store_once_and_only_for_their_store(
    client, make_store, make_staff, make_member, staff_headers, session
):
    store, other = make_store(), make_store()
    member = make_member(store=store, phone="13900139000")
    outsider = make_staff("manager", store=other)
    clerk = make_staff("clerk", store=store)
    manager = make_staff("manager", store=store)

    refused = client.delete(f"/staff/v1/members/{member.id}", headers=staff_headers(outsider))
    assert refused.status_code == 404 and error_code(refused) == "member.not_found"
    assert (
        client.delete(f"/staff/v1/members/{member.id}", headers=staff_headers(clerk)).status_code
        == 403
    )
    session.expire_all()
    assert session.get(Member, member.id).closed_at is None

    done = client.delete(f"/staff/v1/members/{member.id}", headers=staff_headers(manager))
    assert done.status_code == 204
    again = client.delete(f"/staff/v1/members/{member.id}", headers=staff_headers(manager))
    assert again.status_code == 404
    session.expire_all()
    assert session.get(Member, member.id).phone is None
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "member.close")).all()
    assert [(a.staff_id, a.store_id, a.target_id) for a in audit] == [
        (manager.id, store.id, str(member.id))
    ]
