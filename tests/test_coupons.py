"""Coupons: claiming, holding, redeeming at the till, reversing, pushing, templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import clock
from app.errors import AppError
from tests.conftest import error_code

pytest_plugins = ["tests.engagement_factories"]

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


@pytest.fixture(autouse=True)
def _frozen():
    clock.freeze(NOW)


def claim(client, member_headers, member, template, **headers):
    return client.post(
        f"/api/v1/coupons/{template.id}/claims", headers=member_headers(member, **headers)
    )


# ---- values ------------------------------------------------------------------------------


def test_discounts_by_kind(make_template):
    from app.services.coupons import describe, discount_for

    manjian = make_template()
    assert describe(manjian) == "满100减20"
    assert discount_for(manjian, 12000) == 2000
    flat = make_template(kind="amount_off", amount_off_fen=1000, threshold_fen=0)
    assert describe(flat) == "立减10元"
    assert discount_for(flat, 600) == 600  # never more than the order
    percent = make_template(
        kind="percent_off", percent_off=15, threshold_fen=0, amount_off_fen=0, max_discount_fen=5000
    )
    assert describe(percent) == "8.5折 最高减50元"
    assert discount_for(percent, 9999) == 1499  # 1499.85 rounds down: the shop keeps the fraction
    assert discount_for(percent, 100000) == 5000  # the cap


# ---- claiming ----------------------------------------------------------------------------


def test_claim_gives_a_coupon_with_an_unguessable_code_and_relative_validity(
    client, make_member, member_headers, make_template
):
    member = make_member()
    template = make_template(valid_days=7)
    response = claim(client, member_headers, member, template)
    assert response.status_code == 201, response.get_json()
    coupon = response.get_json()["coupon"]
    assert len(coupon["code"]) == 16 and coupon["status"] == "unused"
    assert coupon["template"]["discount_desc"] == "满100减20"
    # Day 1 is the claim day (10 March in Shanghai); valid through the end of 16 March there:
    # valid_until is the last instant it can be used (issue 16), valid_until_date its day.
    assert coupon["valid_until"] == "2026-03-16T15:59:59.999999+00:00"
    assert coupon["valid_until_date"] == "2026-03-16"


def test_limit_per_member_and_stock(client, make_member, member_headers, make_template):
    template = make_template(limit_per_member=2, stock_total=3)
    alice, bob = make_member(), make_member()
    assert claim(client, member_headers, alice, template).status_code == 201
    assert claim(client, member_headers, alice, template).status_code == 201
    third = claim(client, member_headers, alice, template)
    assert third.status_code == 409 and error_code(third) == "coupon.limit_reached"
    assert claim(client, member_headers, bob, template).status_code == 201
    out = claim(client, member_headers, bob, template)
    assert out.status_code == 409 and error_code(out) == "coupon.out_of_stock"
    available = client.get("/api/v1/coupons/available", headers=member_headers(bob)).get_json()
    assert available["items"][0]["stock_left"] == 0
    assert available["items"][0]["claimed_by_me"] == 1


def test_refused_claim_leaves_nothing_behind(session, make_member, make_template):
    from app.models.coupons import CouponHolding, CouponTemplate
    from app.services.coupons import issue_coupon

    template = make_template(stock_total=1, limit_per_member=5)
    first, second = make_member(), make_member()
    issue_coupon(session, template.id, first.id, source="push", ref="r1")
    session.commit()
    with pytest.raises(AppError) as refused:
        issue_coupon(session, template.id, second.id, source="push", ref="r2")
    assert refused.value.code == "coupon.out_of_stock"
    session.commit()
    session.expire_all()
    assert session.get(CouponTemplate, template.id).issued == 1
    held = session.query(CouponHolding).filter_by(member_id=second.id).one_or_none()
    assert held is None or held.count == 0


def test_limit_refusal_takes_back_the_coupon_and_the_stock(session, make_member, make_template):
    from app.models.coupons import Coupon, CouponTemplate
    from app.services.coupons import issue_coupon

    template = make_template(stock_total=10, limit_per_member=1)
    member = make_member()
    issue_coupon(session, template.id, member.id, source="push", ref="x1")
    with pytest.raises(AppError) as limited:
        issue_coupon(session, template.id, member.id, source="push", ref="x2")
    assert limited.value.code == "coupon.limit_reached"
    session.commit()
    session.expire_all()
    assert session.query(Coupon).count() == 1
    assert session.get(CouponTemplate, template.id).issued == 1


def test_issue_coupon_is_idempotent_by_ref(session, make_member, make_template):
    from app.models.coupons import Coupon
    from app.services.coupons import issue_coupon

    template = make_template(limit_per_member=3)
    member = make_member()
    first = issue_coupon(session, template.id, member.id, source="campaign", ref="camp:1:m")
    again = issue_coupon(session, template.id, member.id, source="campaign", ref="camp:1:m")
    session.commit()
    assert first.id == again.id
    assert session.query(Coupon).count() == 1


def test_claim_window_and_audience(client, make_member, member_headers, make_template):
    member = make_member(joined_at=NOW - timedelta(days=90), tier_code="normal")
    later = make_template(claim_starts_at=NOW + timedelta(days=1))
    assert error_code(claim(client, member_headers, member, later)) == "coupon.not_claimable"
    newcomers = make_template(audience="new_members", new_member_days=30)
    assert error_code(claim(client, member_headers, member, newcomers)) == "coupon.not_claimable"
    gold = make_template(audience="tiers", audience_tiers=["gold"])
    assert error_code(claim(client, member_headers, member, gold)) == "coupon.not_claimable"
    silver_or_normal = make_template(audience="tiers", audience_tiers=["normal", "silver"])
    assert claim(client, member_headers, member, silver_or_normal).status_code == 201
    listed = client.get("/api/v1/coupons/available", headers=member_headers(member)).get_json()
    assert [t["id"] for t in listed["items"]] == [silver_or_normal.id]
    fresh = make_member(joined_at=NOW - timedelta(days=2))
    assert claim(client, member_headers, fresh, newcomers).status_code == 201


def test_unknown_template_is_404(client, make_member, member_headers):
    response = client.post("/api/v1/coupons/999/claims", headers=member_headers(make_member()))
    assert response.status_code == 404


def test_claim_replays_with_idempotency_key(client, make_member, member_headers, make_template):
    template = make_template(limit_per_member=5)
    member = make_member()
    first = claim(client, member_headers, member, template, **{"Idempotency-Key": "k"})
    second = claim(client, member_headers, member, template, **{"Idempotency-Key": "k"})
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    mine = client.get("/api/v1/me/coupons", headers=member_headers(member)).get_json()
    assert len(mine["items"]) == 1


def test_my_coupons_by_status_and_expired_show_as_expired(
    client, session, make_member, member_headers, make_template
):
    from app.services.coupons import issue_coupon

    member = make_member()
    short = make_template(
        validity_mode="fixed",
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(hours=1),
    )
    long = make_template(valid_days=30)
    issue_coupon(session, short.id, member.id, source="push", ref="a")
    issue_coupon(session, long.id, member.id, source="push", ref="b")
    session.commit()
    clock.freeze(NOW + timedelta(hours=2))
    headers = member_headers(member)
    expired = client.get("/api/v1/me/coupons?status=expired", headers=headers).get_json()
    assert [c["template"]["id"] for c in expired["items"]] == [short.id]
    assert expired["items"][0]["status"] == "expired"
    unused = client.get("/api/v1/me/coupons?status=unused", headers=headers).get_json()
    assert [c["template"]["id"] for c in unused["items"]] == [long.id]
    every = client.get("/api/v1/me/coupons", headers=headers).get_json()
    assert {c["status"] for c in every["items"]} == {"expired", "unused"}
    bad = client.get("/api/v1/me/coupons?status=lost", headers=headers)
    assert bad.status_code == 422 and error_code(bad) == "request.invalid"


def test_signup_gift(client, session, make_template):
    from app.models.coupons import Coupon

    make_template(
        name="新人礼",
        signup_gift=True,
        claimable=False,
        kind="amount_off",
        amount_off_fen=500,
        threshold_fen=0,
    )
    body = client.post("/api/v1/auth/login", json={"code": "test:newbie"}).get_json()
    assert body["is_new"]
    coupons = session.query(Coupon).filter_by(member_id=body["member"]["id"]).all()
    assert [c.source for c in coupons] == ["signup"]
    client.post("/api/v1/auth/login", json={"code": "test:newbie"})
    assert session.query(Coupon).count() == 1


# ---- the till ----------------------------------------------------------------------------


@pytest.fixture
def held_coupon(session, make_member, make_template):
    from app.services.coupons import issue_coupon

    def make(member=None, **template_fields):
        member = member or make_member()
        template = make_template(**template_fields)
        coupon = issue_coupon(
            session, template.id, member.id, source="push", ref=f"t:{template.id}:{member.id}"
        )
        session.commit()
        return coupon

    return make


def redeem(client, staff_headers, clerk, **body):
    body.setdefault("order_no", "A-1")
    body.setdefault("order_amount_fen", 15000)
    return client.post("/staff/v1/coupons/redemptions", json=body, headers=staff_headers(clerk))


def test_redeem_by_code_records_store_and_staff(
    client, session, make_staff, staff_headers, held_coupon
):
    from app.models.coupons import CouponRedemption

    coupon = held_coupon()
    clerk = make_staff("clerk")
    preview = redeem(client, staff_headers, clerk, coupon_code=coupon.code, dry_run=True)
    assert preview.status_code == 201, preview.get_json()
    assert preview.get_json()["redemption"]["discount_fen"] == 2000
    assert session.query(CouponRedemption).count() == 0
    used = redeem(client, staff_headers, clerk, coupon_code=coupon.code.lower())
    assert used.status_code == 201
    redemption = session.get(CouponRedemption, used.get_json()["redemption"]["id"])
    assert (redemption.store_id, redemption.staff_id) == (clerk.store_id, clerk.id)
    again = redeem(client, staff_headers, clerk, coupon_code=coupon.code, order_no="B-2")
    assert again.status_code == 409 and error_code(again) == "coupon.used"
    # The same order again (a retried request) is the same redemption, not an error.
    retried = redeem(client, staff_headers, clerk, coupon_code=coupon.code)
    assert retried.get_json()["redemption"]["id"] == redemption.id


def test_redeem_refusals(client, make_staff, staff_headers, held_coupon):
    clerk = make_staff("clerk")
    coupon = held_coupon()
    low = redeem(client, staff_headers, clerk, coupon_code=coupon.code, order_amount_fen=9999)
    assert low.status_code == 422 and error_code(low) == "coupon.threshold_not_met"
    future = held_coupon(
        validity_mode="fixed",
        valid_from=NOW + timedelta(days=1),
        valid_until=NOW + timedelta(days=5),
    )
    early = redeem(client, staff_headers, clerk, coupon_code=future.code)
    assert early.status_code == 409 and error_code(early) == "coupon.not_yet_valid"
    clock.freeze(NOW + timedelta(days=8))
    late = redeem(client, staff_headers, clerk, coupon_code=coupon.code)
    assert late.status_code == 409 and error_code(late) == "coupon.expired"
    unknown = redeem(client, staff_headers, clerk, coupon_code="NOSUCHCODE000000")
    assert unknown.status_code == 404
    neither = redeem(client, staff_headers, clerk)
    assert neither.status_code == 422 and error_code(neither) == "request.invalid"


def test_scan_lists_usable_coupons_and_redeem_by_scan(
    client, make_member, make_staff, staff_headers, held_coupon, scan_for
):
    member = make_member()
    mine = held_coupon(member=member)
    held_coupon(
        member=member,
        validity_mode="fixed",
        valid_from=NOW + timedelta(days=3),
        valid_until=NOW + timedelta(days=9),
    )  # not yet usable: not shown
    someone_elses = held_coupon()
    clerk = make_staff("clerk")
    code = client.get(
        "/api/v1/me/member-code", headers={"Authorization": _member_token(member)}
    ).get_json()["code"]
    scan = client.post("/staff/v1/scans", json={"member_code": code}, headers=staff_headers(clerk))
    listed = scan.get_json()["member"]["coupons"]
    assert [c["id"] for c in listed] == [mine.id]
    assert listed[0]["discount_desc"] == "满100减20"
    scan_id = scan.get_json()["scan_id"]
    foreign = redeem(client, staff_headers, clerk, scan_id=scan_id, coupon_id=someone_elses.id)
    assert foreign.status_code == 404
    ok = redeem(client, staff_headers, clerk, scan_id=scan_id, coupon_id=mine.id)
    assert ok.status_code == 201, ok.get_json()


def _member_token(member) -> str:
    from app.auth import issue_member_token

    return "Bearer " + issue_member_token(member.id)[0]


def test_reversal_makes_the_coupon_usable_again_only_at_own_store(
    client, make_staff, staff_headers, held_coupon
):
    coupon = held_coupon()
    clerk, other_store_clerk = make_staff("clerk"), make_staff("clerk")
    rid = redeem(client, staff_headers, clerk, coupon_code=coupon.code).get_json()["redemption"][
        "id"
    ]
    url = f"/staff/v1/coupons/redemptions/{rid}/reversal"
    foreign = client.post(url, json={"reason": "x"}, headers=staff_headers(other_store_clerk))
    assert foreign.status_code == 404
    back = client.post(url, json={"reason": "rung up wrongly"}, headers=staff_headers(clerk))
    assert back.status_code == 200 and back.get_json()["redemption"]["status"] == "reversed"
    twice = client.post(url, json={"reason": "again"}, headers=staff_headers(clerk))
    assert twice.status_code == 200
    assert (
        redeem(client, staff_headers, clerk, coupon_code=coupon.code, order_no="A-2").status_code
        == 201
    )


def test_full_refund_of_the_order_gives_the_coupon_back_partial_does_not(
    client, make_member, make_staff, staff_headers, held_coupon, scan_for
):
    member = make_member()
    clerk = make_staff("clerk")
    first, second = held_coupon(member=member), held_coupon(member=member)
    scan_id = scan_for(member, clerk)
    for coupon, order_no in ((first, "P-1"), (second, "P-2")):
        used = redeem(
            client,
            staff_headers,
            clerk,
            coupon_code=coupon.code,
            order_no=order_no,
            order_amount_fen=13000,
        )
        assert used.status_code == 201
        purchase = client.post(
            "/staff/v1/purchases",
            headers=staff_headers(clerk),
            json={"scan_id": scan_id, "order_no": order_no, "amount_fen": 11000},
        )
        assert purchase.status_code == 201, purchase.get_json()
    full = client.post(
        "/staff/v1/purchases/P-1/refunds",
        headers=staff_headers(clerk),
        json={"refund_no": "R1", "amount_fen": 11000},
    )
    assert full.status_code == 201
    partial = client.post(
        "/staff/v1/purchases/P-2/refunds",
        headers=staff_headers(clerk),
        json={"refund_no": "R2", "amount_fen": 5000},
    )
    assert partial.status_code == 201
    listed = client.get(
        "/api/v1/me/coupons?status=unused", headers={"Authorization": _member_token(member)}
    ).get_json()
    assert [c["id"] for c in listed["items"]] == [first.id]


# ---- marketing ---------------------------------------------------------------------------


def test_template_crud_and_validation(client, make_staff, staff_headers):
    marketer, clerk = make_staff("marketer"), make_staff("clerk")
    body = {
        "name": "八五折",
        "kind": "percent_off",
        "percent_off": 15,
        "max_discount_fen": 3000,
        "validity_mode": "fixed",
        "valid_from": "2026-03-01T00:00:00+08:00",
        "valid_until": "2026-04-01T00:00:00+08:00",
        "stock_total": 500,
        "limit_per_member": 2,
    }
    url = "/staff/v1/admin/coupon-templates"
    assert client.post(url, json=body, headers=staff_headers(clerk)).status_code == 403
    created = client.post(url, json=body, headers=staff_headers(marketer))
    assert created.status_code == 201, created.get_json()
    template = created.get_json()
    assert template["stock_left"] == 500
    bad = client.post(url, json={**body, "kind": "threshold_off"}, headers=staff_headers(marketer))
    assert bad.status_code == 422 and "amount_off_fen" in bad.get_json()["error"]["details"]
    empty = client.post(
        url, json={**body, "valid_until": body["valid_from"]}, headers=staff_headers(marketer)
    )
    assert empty.status_code == 422
    item = f"{url}/{template['id']}"
    patched = client.patch(
        item, json={"stock_total": 800, "name": "八五折券"}, headers=staff_headers(marketer)
    )
    assert patched.get_json()["stock_left"] == 800 and patched.get_json()["name"] == "八五折券"
    gone = client.delete(item, headers=staff_headers(marketer))
    assert gone.get_json()["is_active"] is False
    assert client.get(f"{url}/999", headers=staff_headers(marketer)).status_code == 404
    listed = client.get(url, headers=staff_headers(marketer)).get_json()
    assert [t["id"] for t in listed["items"]] == [template["id"]]


def test_stock_cannot_go_below_issued(
    client, session, make_member, make_staff, staff_headers, make_template
):
    from app.services.coupons import issue_coupon

    template = make_template(stock_total=5)
    for i in range(3):
        issue_coupon(session, template.id, make_member().id, source="push", ref=f"s{i}")
    session.commit()
    response = client.patch(
        f"/staff/v1/admin/coupon-templates/{template.id}",
        json={"stock_total": 2},
        headers=staff_headers(make_staff("marketer")),
    )
    assert response.status_code == 409 and error_code(response) == "coupon.stock_below_issued"


def test_push_is_idempotent_by_push_key(
    client, session, make_member, make_staff, staff_headers, make_template
):
    from app.models.coupons import Coupon

    template = make_template(stock_total=2, claimable=False)
    members = [make_member() for _ in range(3)]
    url = f"/staff/v1/admin/coupon-templates/{template.id}/pushes"
    headers = staff_headers(make_staff("marketer"))
    body = {"push_key": "spring-1", "member_ids": [m.id for m in members] + [987654]}
    first = client.post(url, json=body, headers=headers).get_json()
    assert first["issued"] == 2
    assert first["refused"] == {
        str(members[2].id): "coupon.out_of_stock",
        "987654": "member.not_found",
    }
    second = client.post(url, json=body, headers=headers).get_json()
    assert second["issued"] == 0 and second["already_had"] == 2
    assert session.query(Coupon).count() == 2


# ---- the answers' shapes (API.md) ---------------------------------------------------------

TEMPLATE_BRIEF = {
    "id",
    "name",
    "description",
    "kind",
    "amount_off_fen",
    "threshold_fen",
    "percent_off",
    "max_discount_fen",
    "discount_desc",
}


def test_coupon_answers_have_the_contracts_fields_and_no_others(
    client, make_member, member_headers, make_staff, staff_headers, make_template
):
    member = make_member()
    template = make_template(valid_days=7, stock_total=10, limit_per_member=3)
    available = client.get("/api/v1/coupons/available", headers=member_headers(member)).get_json()
    assert available["next_cursor"] is None
    assert set(available["items"][0]) == TEMPLATE_BRIEF | {
        "stock_left",
        "claimed_by_me",
        "limit_per_member",
        "claim_ends_at",
        "validity_mode",
        "valid_from",
        "valid_until",
        "valid_until_date",
        "valid_days",
    }
    assert available["items"][0]["stock_left"] == 10
    assert available["items"][0]["claimed_by_me"] == 0
    assert available["items"][0]["validity_mode"] == "relative"

    claimed = claim(client, member_headers, member, template).get_json()
    assert set(claimed) == {"coupon"}
    coupon = claimed["coupon"]
    coupon_keys = {"id", "code", "template", "status", "source", "valid_from", "valid_until"}
    coupon_keys |= {"valid_until_date"}
    assert set(coupon) == coupon_keys | {"used_at", "created_at"}
    assert set(coupon["template"]) == TEMPLATE_BRIEF
    assert (coupon["source"], coupon["used_at"]) == ("claim", None)
    assert coupon["created_at"] == "2026-03-10T04:00:00+00:00"

    mine = client.get("/api/v1/me/coupons", headers=member_headers(member)).get_json()
    assert mine == {"items": [coupon], "next_cursor": None}

    clerk = make_staff("clerk")
    code = client.get("/api/v1/me/member-code", headers=member_headers(member)).get_json()
    scan = client.post(
        "/staff/v1/scans", json={"member_code": code["code"]}, headers=staff_headers(clerk)
    ).get_json()
    till_coupon = scan["member"]["coupons"][0]
    assert till_coupon == {
        "id": coupon["id"],
        "code": coupon["code"],
        "name": template.name,
        "kind": "threshold_off",
        "discount_desc": "满100减20",
        "valid_until": coupon["valid_until"],
        "valid_until_date": coupon["valid_until_date"],
    }

    preview = redeem(client, staff_headers, clerk, coupon_code=coupon["code"], dry_run=True)
    assert preview.get_json() == {
        "redemption": {
            "id": None,
            "coupon_id": coupon["id"],
            "discount_fen": 2000,
            "status": "preview",
            "order_no": None,
            "store_id": None,
            "staff_id": None,
            "created_at": None,
            "reversed_at": None,
        },
        "coupon": {"name": template.name, "discount_desc": "满100减20"},
        "dry_run": True,
    }
    used = redeem(client, staff_headers, clerk, coupon_code=coupon["code"]).get_json()
    assert used["dry_run"] is False
    assert used["redemption"]["status"] == "applied"
    assert used["redemption"]["order_no"] == "A-1"
    assert used["redemption"]["store_id"] == clerk.store_id
    assert used["redemption"]["created_at"] == "2026-03-10T04:00:00+00:00"
    reversed_ = client.post(
        f"/staff/v1/coupons/redemptions/{used['redemption']['id']}/reversal",
        json={"reason": "rung up twice"},
        headers=staff_headers(clerk),
    ).get_json()
    assert reversed_["redemption"]["status"] == "reversed"
    assert reversed_["redemption"]["reversed_at"] == "2026-03-10T04:00:00+00:00"
    assert reversed_["coupon"] == used["coupon"]


def test_a_template_for_tiers_names_only_tiers_the_program_has(
    client, make_staff, staff_headers, make_template
):
    """`audience_tiers` naming a tier nobody can be in made a coupon nobody can claim. 422,
    nothing saved; the program's own codes are fine. Issue 14, item 10."""
    from app.models.coupons import CouponTemplate

    marketer = staff_headers(make_staff("marketer"))
    body = {
        "name": "金卡专享",
        "kind": "amount_off",
        "amount_off_fen": 500,
        "validity_mode": "relative",
        "valid_days": 7,
        "stock_total": 10,
        "audience": "tiers",
        "audience_tiers": ["gold", "platinum"],
    }
    url = "/staff/v1/admin/coupon-templates"
    refused = client.post(url, json=body, headers=marketer)
    assert refused.status_code == 422, refused.get_json()
    assert error_code(refused) == "request.invalid"
    assert "audience_tiers" in refused.get_json()["error"]["details"]
    assert CouponTemplate.query.count() == 0
    created = client.post(url, json={**body, "audience_tiers": ["gold"]}, headers=marketer)
    assert created.status_code == 201, created.get_json()
    item = f"{url}/{created.get_json()['id']}"
    patched = client.patch(item, json={"audience_tiers": ["silver", "vip"]}, headers=marketer)
    assert patched.status_code == 422
    assert client.get(item, headers=marketer).get_json()["audience_tiers"] == ["gold"]


def test_a_coupon_is_used_through_the_last_instant_of_its_last_day(
    client, session, make_member, make_template, make_store, make_staff, staff_headers
):
    """One rule (issue 16): valid_until is the last instant it can be used; at 23:59:59.999999
    of its last day in Shanghai it still serves, a microsecond later it is expired, and the
    refusal says when in ISO 8601 with the business day."""
    from app.services.coupons import issue_coupon

    member = make_member()
    coupon = issue_coupon(
        session, make_template(valid_days=1).id, member.id, source="push", ref="v1"
    )
    session.commit()
    clerk = staff_headers(make_staff("clerk", store=make_store()))
    last = datetime(2026, 3, 10, 15, 59, 59, 999999, tzinfo=UTC)  # 23:59:59.999999 in Shanghai
    assert coupon.valid_until == last
    body = {
        "coupon_code": coupon.code,
        "order_no": "V-1",
        "order_amount_fen": 10_000,
        "dry_run": True,
    }
    clock.freeze(last)
    assert client.post("/staff/v1/coupons/redemptions", json=body, headers=clerk).status_code == 201
    clock.freeze(last + timedelta(microseconds=1))
    late = client.post("/staff/v1/coupons/redemptions", json=body, headers=clerk)
    assert late.status_code == 409 and error_code(late) == "coupon.expired"
    assert late.get_json()["error"]["details"] == {
        "valid_until": "2026-03-10T15:59:59.999999+00:00",
        "valid_until_date": "2026-03-10",
    }
