"""Points at the till (积分抵现, issue 16): the redeem rule, dry runs, coupons first, refunds."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Purchase
from app.models.points import PointEntry
from tests.conftest import error_code, ledger_invariants
from tests.staff.test_till import refund

pytest_plugins = ["tests.engagement_factories", "tests.staff.test_till"]  # make_template, till

RULE = {"points_per_yuan_off": 100, "max_share_percent": 50, "min_points": 100}


@pytest.fixture
def redeeming(client, make_staff, staff_headers):
    """Set the points program's redeem rule through the admin endpoint."""
    admin = staff_headers(make_staff("admin"))

    def put(rule):
        current = client.get("/staff/v1/admin/programs/points", headers=admin).get_json()
        current["redeem"] = rule
        saved = client.put("/staff/v1/admin/programs/points", json=current, headers=admin)
        assert saved.status_code == 200, saved.get_json()
        return saved.get_json()

    return put


def pay(client, t, order_no, amount_fen, points=None, dry_run=None, **headers):
    body = {"scan_id": t.scan(), "order_no": order_no, "amount_fen": amount_fen}
    if points is not None:
        body["points_to_redeem"] = points
    if dry_run is not None:
        body["dry_run"] = dry_run
    return client.post("/staff/v1/purchases", json=body, headers={**t.headers, **headers})


def _counts(session, member_id):
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(Purchase)),
        session.scalar(
            select(func.count()).select_from(PointEntry).where(PointEntry.member_id == member_id)
        ),
    )


def test_the_rule_is_part_of_the_points_program(client, redeeming, make_staff, staff_headers):
    admin = staff_headers(make_staff("admin"))
    assert client.get("/staff/v1/admin/programs/points", headers=admin).get_json()["redeem"] is None
    assert redeeming(RULE)["redeem"] == RULE
    current = client.get("/staff/v1/admin/programs/points", headers=admin).get_json()
    assert current["redeem"] == RULE
    current["redeem"] = {"points_per_yuan_off": 100, "max_share_percent": 101}
    bad = client.put("/staff/v1/admin/programs/points", json=current, headers=admin)
    assert bad.status_code == 422 and "redeem" in bad.get_json()["error"]["details"]


def test_a_purchase_takes_points_and_earns_on_what_was_paid(
    client, till, grant, redeeming, session
):
    redeeming(RULE)
    grant(till.member, 3000)
    answer = pay(client, till, "P-1", 10_000, points=1000)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["points_redeemed"], body["discount_fen"], body["payable_fen"]) == (
        1000,
        1000,
        9000,
    )
    assert (body["points_awarded"], body["balance"], body["dry_run"]) == (90, 2090, False)
    assert ledger_invariants(session, till.member.id) == 2090
    purchase = session.execute(select(Purchase).where(Purchase.order_no == "P-1")).scalar_one()
    assert (purchase.points_redeemed, purchase.discount_fen) == (1000, 1000)
    spent = session.execute(
        select(PointEntry).where(PointEntry.ref == f"till-redeem:{purchase.id}")
    ).scalar_one()
    assert (spent.delta, spent.reason) == (-1000, "till_redeem")
    # The same order again is a replay: nothing is spent twice; other points are another order.
    again = pay(client, till, "P-1", 10_000, points=1000)
    assert again.status_code == 201 and again.get_json() == body
    assert error_code(pay(client, till, "P-1", 10_000, points=500)) == "purchase.duplicate_order"
    assert ledger_invariants(session, till.member.id) == 2090


def test_points_buy_whole_fen_and_the_points_taken_are_the_fewest_that_do(
    client, till, grant, redeeming, session
):
    redeeming({"points_per_yuan_off": 150, "max_share_percent": 100, "min_points": 0})
    grant(till.member, 1000)
    body = pay(client, till, "P-2", 10_000, points=100).get_json()
    # 100 points x 100 // 150 = 66 fen; 66 fen need ceil(66 x 1.5) = 99 points: 99 are taken.
    assert (body["points_redeemed"], body["discount_fen"], body["payable_fen"]) == (99, 66, 9934)
    assert body["balance"] == 1000 - 99 + 99  # 99.34 yuan earn 99 points
    assert ledger_invariants(session, till.member.id) == 1000


@pytest.mark.parametrize(
    ("rule", "points", "why"),
    [
        (RULE, 5001, "over the share"),  # 50% of 10,000 fen: at most 5,000 points
        (RULE, 99, "below min_points"),
        ({"points_per_yuan_off": 1000, "max_share_percent": 50, "min_points": 0}, 5, "no fen"),
        ({"points_per_yuan_off": 0, "max_share_percent": 50, "min_points": 0}, 100, "off"),
        (None, 100, "no rule"),
    ],
)
def test_points_the_rule_does_not_allow_are_refused_and_nothing_moves(
    client, till, grant, redeeming, session, rule, points, why
):
    redeeming(rule)
    grant(till.member, 10_000)
    before = _counts(session, till.member.id)
    for dry_run in (True, False):
        answer = pay(client, till, "L-1", 10_000, points=points, dry_run=dry_run)
        assert answer.status_code == 422, (why, answer.get_json())
        assert error_code(answer) == "points.redeem_over_limit"
    assert _counts(session, till.member.id) == before
    if rule is RULE:
        assert answer.get_json()["error"]["details"]["max_points"] == 5000
    assert pay(client, till, "L-1", 10_000).status_code == 201  # the order number is still free


def test_short_of_points_is_409_and_records_nothing(client, till, grant, redeeming, session):
    redeeming(RULE)
    grant(till.member, 500)
    before = _counts(session, till.member.id)
    for dry_run in (True, False):
        answer = pay(client, till, "I-1", 10_000, points=600, dry_run=dry_run)
        assert answer.status_code == 409 and error_code(answer) == "points.insufficient"
    assert _counts(session, till.member.id) == before
    assert ledger_invariants(session, till.member.id) == 500
    assert pay(client, till, "I-1", 10_000, points=500).status_code == 201


def test_a_dry_run_previews_and_moves_nothing(client, till, grant, redeeming, session):
    redeeming(RULE)
    grant(till.member, 3000)
    before = _counts(session, till.member.id)
    keyed = {"Idempotency-Key": "preview-1"}
    preview = pay(client, till, "D-1", 10_000, points=1000, dry_run=True, **keyed)
    assert preview.status_code == 201
    body = preview.get_json()
    assert body["purchase_id"] is None and body["dry_run"] is True
    assert (body["points_redeemed"], body["discount_fen"], body["payable_fen"]) == (
        1000,
        1000,
        9000,
    )
    assert (body["points_awarded"], body["balance"]) == (90, 2090)
    assert body["max_points_to_redeem"] == 3000  # the share allows 5,000; the balance is 3,000
    plain = pay(client, till, "D-1", 10_000, dry_run=True).get_json()
    assert (plain["points_redeemed"], plain["points_awarded"], plain["balance"]) == (0, 100, 3100)
    assert _counts(session, till.member.id) == before
    assert ledger_invariants(session, till.member.id) == 3000
    real = pay(client, till, "D-1", 10_000, points=1000, **{"Idempotency-Key": "real-1"})
    assert real.status_code == 201
    assert {k: v for k, v in real.get_json().items() if k not in ("purchase_id", "dry_run")} == {
        k: v for k, v in body.items() if k not in ("purchase_id", "dry_run", "max_points_to_redeem")
    }


def _coupon_on_order(client, t, session, make_template, order_no, amount_fen):
    from app.services.coupons import issue_coupon

    template = make_template()  # 满100减20: 2,000 fen off an order of 10,000 fen or more
    coupon = issue_coupon(session, template.id, t.member.id, source="push", ref=f"t:{order_no}")
    session.commit()
    used = client.post(
        "/staff/v1/coupons/redemptions",
        json={"coupon_code": coupon.code, "order_no": order_no, "order_amount_fen": amount_fen},
        headers=t.headers,
    )
    assert used.status_code == 201, used.get_json()
    return used.get_json()


def test_the_coupon_applies_first_then_points(
    client, till, grant, redeeming, session, make_template
):
    redeeming(RULE)
    grant(till.member, 10_000)
    _coupon_on_order(client, till, session, make_template, "C-1", 10_000)
    # 8,000 fen after the coupon: points pay at most half of that.
    over = pay(client, till, "C-1", 10_000, points=4001)
    assert error_code(over) == "points.redeem_over_limit"
    assert over.get_json()["error"]["details"] == {"max_points": 4000, "max_discount_fen": 4000}
    body = pay(client, till, "C-1", 10_000, points=4000).get_json()
    assert (body["coupon_discount_fen"], body["discount_fen"], body["payable_fen"]) == (
        2000,
        4000,
        4000,
    )
    assert body["points_awarded"] == 40
    # Without points, a purchase still earns on what the coupon left to pay.
    _coupon_on_order(client, till, session, make_template, "C-2", 10_000)
    plain = pay(client, till, "C-2", 10_000).get_json()
    assert (plain["coupon_discount_fen"], plain["payable_fen"], plain["points_awarded"]) == (
        2000,
        8000,
        80,
    )
    assert ledger_invariants(session, till.member.id) == 10_000 - 4000 + 40 + 80


def test_refunds_give_back_the_redeemed_share_and_reverse_the_earned_share_exactly(
    client, till, grant, redeeming, session
):
    redeeming({"points_per_yuan_off": 100, "max_share_percent": 50, "min_points": 0})
    grant(till.member, 1000)
    body = pay(client, till, "R-1", 1000, points=300).get_json()
    assert (body["discount_fen"], body["payable_fen"], body["points_awarded"]) == (300, 700, 7)
    answers = [
        refund(client, till, "R-1", f"r{n}", fen).get_json()
        for n, fen in enumerate((333, 333, 334))
    ]
    # Shares of the running total, rounded down: 300 x 333/1000 = 99, x 666/1000 = 199, all 300.
    assert [a["points_returned"] for a in answers] == [99, 100, 101]
    assert [a["points_reversed"] for a in answers] == [2, 2, 3]
    assert answers[-1]["balance"] == 1000
    assert ledger_invariants(session, till.member.id) == 1000
    reasons = session.execute(
        select(PointEntry.reason, func.sum(PointEntry.delta))
        .where(PointEntry.member_id == till.member.id)
        .group_by(PointEntry.reason)
    ).all()
    assert dict(reasons) == {
        "adjustment": 1000,
        "till_redeem": -300,
        "purchase": 7,
        "refund_redeem": 300,
        "refund": -7,
    }
    # A replayed refund gives nothing back twice.
    replay = refund(client, till, "R-1", "r0", 333).get_json()
    assert (replay["points_returned"], replay["points_reversed"]) == (99, 2)
    assert ledger_invariants(session, till.member.id) == 1000


def test_a_refund_after_the_points_were_spent_is_a_debt(client, till, grant, redeeming, session):
    redeeming({"points_per_yuan_off": 100, "max_share_percent": 100, "min_points": 0})
    grant(till.member, 100)
    pay(client, till, "S-1", 100_000)  # earns 1,000
    pay(client, till, "S-2", 1_100, points=1_100)  # spends all of it, earns nothing
    assert ledger_invariants(session, till.member.id) == 0
    back = refund(client, till, "S-1", "s1", 100_000).get_json()
    assert (back["points_reversed"], back["balance"]) == (1000, -1000)
    back = refund(client, till, "S-2", "s2", 1_100).get_json()
    assert (back["points_returned"], back["balance"]) == (1_100, 100)
    assert ledger_invariants(session, till.member.id) == 100


def test_twenty_purchases_at_once_redeeming_one_members_points_never_overspend(
    live_server, till, grant, redeeming, session
):
    from tests.concurrency import fire

    redeeming({"points_per_yuan_off": 100, "max_share_percent": 50, "min_points": 0})
    grant(till.member, 1000)
    scan_id = till.scan()
    url = live_server + "/staff/v1/purchases"
    calls = [
        lambda s, i=i: s.post(
            url,
            json={
                "scan_id": scan_id,
                "order_no": f"RUSH-{i}",
                "amount_fen": 200,
                "points_to_redeem": 100,
            },
            headers=till.headers,
            timeout=30,
        )
        for i in range(20)
    ]
    answers = fire(calls, clients=20)
    codes = sorted(a.status_code for a in answers)
    # Each takes 100 points and earns 1 (on 100 fen paid): after 10, 10 points are left.
    assert codes == [201] * 10 + [409] * 10, [a.json() for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {
        "points.insufficient"
    }
    assert ledger_invariants(session, till.member.id) == 10
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Purchase)) == 10
