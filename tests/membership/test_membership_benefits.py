"""What a paid membership gives: the multiplier at the till (and where it shows), the monthly
coupons, the reminders, the audience filter; and who may manage plans."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app import clock
from app.models.coupons import Coupon
from app.models.membership import Membership, MembershipPlan
from app.models.messaging import OutboxMessage
from app.services.membership import membership_jobs
from app.services.messaging import audiences

pytest_plugins = ["tests.engagement_factories"]

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def paid(session):
    """Make `member` a paid member of a plan (as a paid order would) from `starts_on`."""

    def make(member, multiplier_percent=150, starts_on=date(2026, 3, 1), ends_on=None, **plan):
        found = MembershipPlan(
            name=plan.pop("name", "年卡"),
            price_fen=12000,
            months=12,
            multiplier_percent=multiplier_percent,
            monthly_coupons=plan.pop("monthly_coupons", []),
        )
        session.add(found)
        session.flush()
        session.add(
            Membership(
                member_id=member.id,
                plan_id=found.id,
                multiplier_percent=multiplier_percent,
                starts_on=starts_on,
                ends_on=ends_on or date(2027, 2, 28),
            )
        )
        session.commit()
        return found

    return make


@pytest.fixture
def till(make_store, make_staff, make_member, staff_headers, scan_for):
    store = make_store()
    clerk = make_staff("clerk", store=store)

    class Till:
        headers = staff_headers(clerk)

        def buy(self, client, member, order_no, amount_fen, **extra):
            body = {"scan_id": scan_for(member, clerk), "order_no": order_no}
            return client.post(
                "/staff/v1/purchases",
                json={**body, "amount_fen": amount_fen, **extra},
                headers=self.headers,
            )

    return Till(), store


def test_paid_members_earn_the_higher_multiplier_at_the_till(
    client, till, make_member, paid, member_headers
):
    clock.freeze(NOW)
    desk, store = till
    plain = make_member(store=store)
    member = make_member(store=store)
    gold = make_member(store=store, tier_code="gold")  # x1.5 by tier
    paid(member, multiplier_percent=200)
    paid(gold, multiplier_percent=120)
    # 100 yuan at 1 point a yuan: x1 plain, x2 by the plan, gold keeps its x1.5 (the higher).
    assert desk.buy(client, plain, "P-1", 10_000).get_json()["points_awarded"] == 100
    assert desk.buy(client, member, "P-2", 10_000).get_json()["points_awarded"] == 200
    assert desk.buy(client, gold, "P-3", 10_000).get_json()["points_awarded"] == 150
    preview = desk.buy(client, member, "P-4", 10_000, dry_run=True).get_json()
    assert preview["points_awarded"] == 200
    me = client.get("/api/v1/me", headers=member_headers(member)).get_json()
    assert me["paid_membership"] == {"plan": "年卡", "ends_on": "2027-02-28", "multiplier": 2.0}
    assert (
        client.get("/api/v1/me", headers=member_headers(plain)).get_json()["paid_membership"]
        is None
    )


def test_the_scan_shows_the_paid_membership(client, till, make_member, paid, member_headers):
    clock.freeze(NOW)
    desk, store = till
    member = make_member(store=store)
    paid(member, multiplier_percent=150)
    code = client.get("/api/v1/me/member-code", headers=member_headers(member)).get_json()["code"]
    scanned = client.post("/staff/v1/scans", json={"member_code": code}, headers=desk.headers)
    assert scanned.status_code == 201, scanned.get_json()
    assert scanned.get_json()["member"]["paid_membership"]["multiplier"] == 1.5


def test_an_ended_membership_earns_by_tier_again(client, till, make_member, paid):
    clock.freeze(NOW)
    desk, store = till
    member = make_member(store=store)
    paid(member, multiplier_percent=200, starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 9))
    assert desk.buy(client, member, "E-1", 10_000).get_json()["points_awarded"] == 100


def test_monthly_coupons_once_a_month(session, make_member, paid, make_template):
    first = make_template(limit_per_member=24, stock_total=1000, claimable=False)
    second = make_template(limit_per_member=24, stock_total=1000, claimable=False)
    members = [make_member() for _ in range(3)]
    plan = None
    for member in members[:2]:
        plan = paid(member, monthly_coupons=[first.id, second.id])
    ended = members[2]
    paid(ended, starts_on=date(2026, 1, 1), ends_on=date(2026, 2, 28), monthly_coupons=[first.id])
    assert plan is not None

    def coupons():
        session.expire_all()
        return sorted(
            session.execute(
                select(Coupon.member_id, Coupon.ref).where(Coupon.source == "membership")
            )
        )

    march = datetime(2026, 3, 1, 16, 40, tzinfo=UTC)  # 1 March 00:40 in Shanghai
    assert membership_jobs.monthly_coupons(session, march)["coupons"] == 4
    assert membership_jobs.monthly_coupons(session, march)["coupons"] == 0  # twice is once
    assert {ref for _, ref in coupons()} == {
        f"plan:{m.id}:2026-03:{t.id}" for m in members[:2] for t in (first, second)
    }
    april = datetime(2026, 3, 31, 16, 40, tzinfo=UTC)  # 1 April in Shanghai
    assert membership_jobs.monthly_coupons(session, april)["coupons"] == 4
    assert len(coupons()) == 8
    assert ended.id not in {m for m, _ in coupons()}


def test_expiry_reminders_once_per_end_date(session, make_member, paid):
    soon, later = make_member(), make_member()
    paid(soon, ends_on=date(2026, 3, 14))
    paid(later, ends_on=date(2026, 9, 1))
    assert membership_jobs.expiry_reminders(session, NOW)["queued"] == 1
    assert membership_jobs.expiry_reminders(session, NOW)["queued"] == 0
    queued = session.execute(
        select(OutboxMessage.member_id, OutboxMessage.dedupe_key).where(
            OutboxMessage.purpose == "membership_expiring"
        )
    ).all()
    assert queued == [(soon.id, "2026-03-14")]


def test_audience_filter_paid_member(session, make_member, paid):
    clock.freeze(NOW)
    member, other = make_member(), make_member()
    paid(member)
    ids = lambda f: set(session.scalars(audiences.member_ids_query(audiences.load_filter(f))))  # noqa: E731
    assert ids({"paid_member": True}) == {member.id}
    assert ids({"paid_member": False}) == {other.id}
    assert ids({}) == {member.id, other.id}


def test_plans_are_for_admins(
    client, make_staff, staff_headers, make_member, member_headers, session
):
    body = {"name": "月卡", "price_fen": 1500, "months": 1, "multiplier": 1.25}
    for role in ("clerk", "manager", "marketer"):
        refused = client.post(
            "/staff/v1/admin/membership-plans", json=body, headers=staff_headers(make_staff(role))
        )
        assert refused.status_code == 403
    admin = staff_headers(make_staff("admin"))
    created = client.post("/staff/v1/admin/membership-plans", json=body, headers=admin)
    assert created.status_code == 201
    plan = created.get_json()
    assert (plan["multiplier"], plan["monthly_coupons"], plan["is_active"]) == (1.25, [], True)
    bad = client.post(
        "/staff/v1/admin/membership-plans",
        json={**body, "monthly_coupons": [999999], "multiplier": 0.5},
        headers=admin,
    )
    assert bad.status_code == 422
    changed = client.patch(
        f"/staff/v1/admin/membership-plans/{plan['id']}", json={"price_fen": 1800}, headers=admin
    )
    assert changed.status_code == 200 and changed.get_json()["price_fen"] == 1800
    member = member_headers(make_member())
    on_sale = client.get("/api/v1/membership/plans", headers=member).get_json()["items"]
    assert [p["id"] for p in on_sale] == [plan["id"]]
    assert (
        client.delete(f"/staff/v1/admin/membership-plans/{plan['id']}", headers=admin).status_code
        == 200
    )
    assert client.get("/api/v1/membership/plans", headers=member).get_json()["items"] == []
    refused = client.post("/api/v1/membership/orders", json={"plan_id": plan["id"]}, headers=member)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "membership.plan_inactive"
    from app.models import AuditEntry

    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == [
        "membership_plan.create",
        "membership_plan.update",
        "membership_plan.update",
    ]
    assert session.scalar(select(func.count()).select_from(MembershipPlan)) == 1


def test_membership_messages_show_the_last_day(session, make_member):
    from app.services.messaging import message_templates, outbox, send_prepare

    member = make_member()
    templates = outbox.settings(session)["templates"]
    values = send_prepare.member_values(session, member, {"ends_on": "2027-03-09"}, NOW)
    for purpose in ("membership_expiring", "membership_renewed"):
        data = message_templates.fill(templates[purpose]["subscribe"], values)
        assert data["date1"] == {"value": "2027年3月9日"}
