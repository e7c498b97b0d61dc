"""Points promotions (会员日, issue 19): CRUD for marketers, the till's and the POS's points by
them (business time zone, stores, tiers, categories, the highest multiplier), refunds, the
order import, and the member's GET /api/v1/promotions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.models import AuditEntry, Member, Purchase
from app.models.promotions import PurchasePromotion
from app.services.till import order_import
from tests.conftest import error_code, ledger_invariants

pytest_plugins = ["tests.staff.test_till"]  # till

# Wednesday 6 January 2027 in Beijing (UTC+8).
WED_0005 = datetime(2027, 1, 5, 16, 5, tzinfo=UTC)  # 00:05 Wednesday Beijing, Tuesday in UTC
WED_2355 = datetime(2027, 1, 6, 15, 55, tzinfo=UTC)
THU_0005 = datetime(2027, 1, 6, 16, 5, tzinfo=UTC)  # 00:05 Thursday Beijing, Wednesday in UTC
WINDOW = {"starts_at": "2027-01-01T00:00:00+08:00", "ends_at": "2027-02-01T00:00:00+08:00"}
LINES = [
    {"sku": "TEA-1", "name": "乌龙茶", "category": "drinks", "quantity": 2,
     "unit_price_fen": 1500, "amount_fen": 3000},
    {"sku": "CAKE-9", "name": "蛋糕", "category": "bakery", "quantity": 1,
     "unit_price_fen": 7000, "amount_fen": 7000},
]  # fmt: skip


@pytest.fixture
def marketer(make_staff, staff_headers):
    return staff_headers(make_staff("marketer"))


@pytest.fixture
def promote(client, marketer):
    def create(**fields):
        body = {"name": "会员日", "multiplier": 2, **WINDOW, **fields}
        response = client.post("/staff/v1/admin/promotions", json=body, headers=marketer)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return create


@pytest.fixture
def pay_at(client, till, scan_for):
    """A purchase at the till at `at` (the service's clock frozen there), a new scan each time."""

    def pay(at, order_no, amount_fen=10_000, **body):
        clock.freeze(at)
        scan_id = scan_for(till.member, till.clerk)
        response = client.post(
            "/staff/v1/purchases",
            json={"scan_id": scan_id, "order_no": order_no, "amount_fen": amount_fen, **body},
            headers=till.headers,
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return pay


def test_a_wednesday_promotion_follows_the_business_days_midnight(pay_at, promote, session, till):
    wednesday = promote(name="周三会员日", weekdays=[3])
    early = pay_at(WED_0005, "W-1")
    assert early["points_awarded"] == 200  # 100 yuan, double
    assert early["promotions"] == [{"id": wednesday["id"], "name": "周三会员日", "points": 100}]
    assert pay_at(WED_2355, "W-2")["points_awarded"] == 200
    thursday = pay_at(THU_0005, "W-3")  # still Wednesday in UTC, Thursday in Beijing
    assert (thursday["points_awarded"], thursday["promotions"]) == (100, [])
    assert ledger_invariants(session, till.member.id) == 500
    stored = session.scalars(select(Purchase.points_awarded).order_by(Purchase.id)).all()
    assert stored == [200, 200, 100]


def test_month_days_stores_and_tiers(pay_at, promote, session, till, make_store):
    promote(name="8号会员日", month_days=[8])
    promote(name="别的店", store_ids=[make_store().id], multiplier=5)
    promote(name="金卡", tiers=["gold"], multiplier=3)
    eighth = datetime(2027, 1, 7, 16, 30, tzinfo=UTC)  # 00:30 on the 8th in Beijing
    assert pay_at(eighth, "M-1")["points_awarded"] == 200
    assert pay_at(eighth + timedelta(days=1), "M-2")["points_awarded"] == 100
    # The store's own promotion, for gold members only.
    session.get(Member, till.member.id).tier_code = "gold"
    session.commit()
    gold = pay_at(eighth + timedelta(days=2), "M-3")
    assert gold["points_awarded"] == 450  # gold earns 150, three times
    assert [p["name"] for p in gold["promotions"]] == ["金卡"]
    here = promote(name="本店", store_ids=[till.store.id], multiplier=4)
    assert pay_at(eighth + timedelta(days=3), "M-4")["promotions"] == [
        {"id": here["id"], "name": "本店", "points": 450}
    ]


def test_categories_promote_their_lines_only_and_the_highest_multiplier_wins(
    pay_at, promote, session, till
):
    bakery = promote(name="烘焙三倍", categories=["bakery"], multiplier=3)
    body = pay_at(WED_2355, "C-1", lines=LINES)
    # 70 yuan of bakery: 70 points again twice.
    assert body["points_awarded"] == 100 + 140
    assert body["promotions"] == [{"id": bakery["id"], "name": "烘焙三倍", "points": 140}]
    # No bakery line, nothing promoted; no lines at all, neither.
    tea = [{**LINES[0], "quantity": 1, "unit_price_fen": 3000}]
    assert pay_at(WED_2355, "C-2", 3000, lines=tea)["promotions"] == []
    assert pay_at(WED_2355, "C-3")["promotions"] == []
    # A whole-order 1.5 and a 4: the 4 wins, alone.
    promote(name="一倍半", multiplier=1.5)
    four = promote(name="四倍", multiplier=4, weekdays=[3])
    best = pay_at(WED_2355, "C-4")
    assert best["points_awarded"] == 400
    assert best["promotions"] == [{"id": four["id"], "name": "四倍", "points": 300}]
    assert session.scalar(select(func.count()).select_from(PurchasePromotion)) == 2


def test_replays_and_dry_runs_say_the_promotion_and_refunds_reverse_its_points(
    client, pay_at, promote, session, till
):
    promote(weekdays=[3])
    preview = pay_at(WED_2355, "R-1", dry_run=True)
    assert (preview["points_awarded"], preview["promotions"][0]["points"]) == (200, 100)
    first = pay_at(WED_2355, "R-1")
    again = pay_at(WED_2355 + timedelta(minutes=1), "R-1")
    assert again == first and first["points_awarded"] == 200
    half = client.post(
        "/staff/v1/purchases/R-1/refunds",
        json={"refund_no": "r1", "amount_fen": 5000},
        headers=till.headers,
    ).get_json()
    assert half["points_reversed"] == 100
    rest = client.post(
        "/staff/v1/purchases/R-1/refunds",
        json={"refund_no": "r2", "amount_fen": 5000},
        headers=till.headers,
    ).get_json()
    assert rest["points_reversed"] == 100
    assert ledger_invariants(session, till.member.id) == 0


def test_imported_history_is_never_promoted(app, promote, session, make_store):
    make_store(code="S019")
    promote(weekdays=[3])
    clock.freeze(datetime(2027, 1, 20, tzinfo=UTC))
    csv = ["customer_id,phone,paid_at,amount_yuan,items,order_no,store_code,nickname",
           "C1,,2027-01-06 12:00,100,1,H-1,S019,"]  # fmt: skip
    order_import.import_orders(session, csv, "csv")
    session.expire_all()
    purchase = session.scalars(select(Purchase)).one()
    assert (purchase.source, purchase.points_awarded) == ("import", 0)
    assert session.scalar(select(func.count()).select_from(PurchasePromotion)) == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"multiplier": 1}, "multiplier"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"multiplier": 11}, "multiplier"),
        ({"multiplier": 1.234}, "multiplier"),
        ({"weekdays": [0]}, "weekdays"),
        ({"weekdays": [8]}, "weekdays"),
        ({"month_days": [32]}, "month_days"),
        ({"weekdays": [3], "month_days": [8]}, "month_days"),
        ({"ends_at": "2026-12-01T00:00:00+08:00"}, "ends_at"),
        ({"ends_at": WINDOW["starts_at"]}, "ends_at"),
        ({"tiers": ["diamond"]}, "tiers"),
        ({"store_ids": [987654]}, "store_ids"),
        ({"starts_at": "2027-01-01T00:00:00"}, "starts_at"),  # naive
    ],
)
def test_a_bad_promotion_is_422_and_nothing_is_saved(client, marketer, session, fields, field):
    body = {"name": "坏的", "multiplier": 2, **WINDOW, **fields}
    response = client.post("/staff/v1/admin/promotions", json=body, headers=marketer)
    assert response.status_code == 422, response.get_json()
    assert error_code(response) == "request.invalid"
    assert field in response.get_json()["error"]["details"]
    listed = client.get("/staff/v1/admin/promotions", headers=marketer).get_json()
    assert listed["items"] == []


def test_promotions_crud_for_marketers_audited(
    client, marketer, make_staff, staff_headers, session
):
    body = {"name": "周三", "multiplier": 1.5, "weekdays": [3], **WINDOW}
    for role in ("clerk", "manager"):
        headers = staff_headers(make_staff(role))
        assert (
            client.post("/staff/v1/admin/promotions", json=body, headers=headers).status_code == 403
        )
        assert client.get("/staff/v1/admin/promotions", headers=headers).status_code == 403
    created = client.post("/staff/v1/admin/promotions", json=body, headers=marketer)
    assert created.status_code == 201
    promotion = created.get_json()
    assert (promotion["multiplier"], promotion["weekdays"], promotion["tiers"]) == (1.5, [3], None)
    url = f"/staff/v1/admin/promotions/{promotion['id']}"
    changed = client.patch(url, json={"multiplier": 3, "name": "周三三倍"}, headers=marketer)
    assert changed.status_code == 200 and changed.get_json()["multiplier"] == 3
    both = client.patch(url, json={"month_days": [1]}, headers=marketer)
    assert both.status_code == 422 and "month_days" in both.get_json()["error"]["details"]
    stopped = client.delete(url, headers=marketer)
    assert stopped.status_code == 200 and stopped.get_json()["is_active"] is False
    assert client.get(url, headers=marketer).get_json()["name"] == "周三三倍"
    assert client.get("/staff/v1/admin/promotions/999999", headers=marketer).status_code == 404
    actions = session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.target_type == "promotion")
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["promotion.create", "promotion.update", "promotion.update"]


def test_the_member_sees_promotions_on_now_and_in_the_next_seven_days(
    client, promote, make_member, member_headers, session
):
    member = make_member()
    wednesday = promote(name="周三", weekdays=[3])
    every_day = promote(name="一月", multiplier=1.5)
    promote(name="金卡", tiers=["gold"])
    promote(name="下月", starts_at="2027-02-01T00:00:00+08:00", ends_at="2027-03-01T00:00:00+08:00")
    promote(
        name="已结束", starts_at="2026-12-01T00:00:00+08:00", ends_at="2027-01-01T00:00:00+08:00"
    )
    soon = promote(name="周五起", starts_at="2027-01-08T00:00:00+08:00")
    clock.freeze(datetime(2027, 1, 4, 2, 0, tzinfo=UTC))  # Monday 10:00 Beijing
    response = client.get("/api/v1/promotions", headers=member_headers(member))
    assert response.status_code == 200, response.get_json()
    items = {p["name"]: p for p in response.get_json()["items"]}
    assert sorted(items) == ["一月", "周三", "周五起"]
    assert items["周三"]["days"] == ["2027-01-06"] and items["周三"]["on_now"] is False
    assert items["周三"]["id"] == wednesday["id"]
    assert items["一月"]["days"] == [f"2027-01-{d:02d}" for d in range(4, 11)]
    assert items["一月"]["on_now"] is True and items["一月"]["id"] == every_day["id"]
    assert items["周五起"]["days"] == ["2027-01-08", "2027-01-09", "2027-01-10"]
    assert items["周五起"]["id"] == soon["id"]
    session.get(Member, member.id).tier_code = "gold"
    session.commit()
    gold = client.get("/api/v1/promotions", headers=member_headers(member)).get_json()
    assert "金卡" in {p["name"] for p in gold["items"]}


def test_the_same_promoted_order_posted_at_once_is_promoted_once(
    live_server, till, promote, session
):
    """Ten identical posts of one order in a promotion, at once: one purchase, its extra
    points once, and every answer (the winner's and the replays') lists the promotion."""
    from tests.concurrency import fire

    now = datetime.now(UTC)
    double = promote(
        starts_at=(now - timedelta(days=1)).isoformat(),
        ends_at=(now + timedelta(days=1)).isoformat(),
    )
    scan_id = till.scan()
    url = live_server + "/staff/v1/purchases"
    body = {"scan_id": scan_id, "order_no": "RUSH-P", "amount_fen": 5000}
    answers = fire(
        [lambda s: s.post(url, json=body, headers=till.headers, timeout=30)] * 10, clients=10
    )
    assert [a.status_code for a in answers] == [201] * 10
    assert {a.json()["points_awarded"] for a in answers} == {100}
    assert all(
        a.json()["promotions"] == [{"id": double["id"], "name": "会员日", "points": 50}]
        for a in answers
    )
    assert session.scalar(select(func.count()).select_from(PurchasePromotion)) == 1
    assert ledger_invariants(session, till.member.id) == 100
