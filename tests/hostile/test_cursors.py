"""Pagination cursors: only a cursor the service handed out is accepted; anything else, however
it was made, is 422 request.invalid on every paginated list, and real cursors page exactly.

The lists are read from /openapi.json (every operation with a `cursor` parameter), so a new
paginated list without a case here fails `test_every_paginated_list_is_covered`.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from app import clock
from tests.conftest import error_code

pytest_plugins = ["tests.engagement_factories"]


def _old_style(payload) -> str:
    """The unsigned cursor format of before: base64 of a JSON object, padding stripped."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


TAMPERED = {
    "id-true": _old_style({"id": True}),
    "id-2**63": _old_style({"id": 2**63}),
    "id-huge": _old_style({"id": 10**30}),
    "id-negative": _old_style({"id": -1}),
    "id-float": _old_style({"id": 1.5}),
    "id-string": _old_style({"id": "1"}),
    "id-null": _old_style({"id": None}),
    "a-list": _old_style([1]),
    "no-id": _old_style({}),
    "unsigned-valid-looking": _old_style({"id": 3}),
    "garbage": "garbage",
    "bad-base64": "%%%%",
    "dot-only": ".",
    "not-utf8": base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
    "signature-only": "Mw.AAAAAAAAAAAAAAAAAAAAAAAAAAA",
}


def _seed_points(ctx):
    for n in range(5):
        ctx["grant"](ctx["member"], 10 + n)


def _seed_my_coupons(ctx):
    from app.services.coupons import issue_coupon

    template = ctx["make_template"](limit_per_member=10)
    for n in range(5):
        issue_coupon(
            ctx["session"], template.id, ctx["member"].id, source="push", ref=f"page-test:{n}"
        )
    ctx["session"].commit()


def _seed_templates(ctx):
    for n in range(5):
        ctx["make_template"](name=f"券{n}")


def _seed_lotteries(ctx):
    for n in range(5):
        ctx["make_lottery"]([], name=f"抽奖{n}")


def _seed_campaigns(ctx):
    from app.models.messaging import Campaign

    for n in range(5):
        ctx["session"].add(Campaign(name=f"campaign {n}"))
    ctx["session"].commit()


def _seed_referrals(ctx):
    from app.models.referrals import Referral

    for _ in range(5):
        invitee = ctx["make_member"]()
        ctx["session"].add(
            Referral(
                referrer_id=ctx["member"].id,
                invitee_id=invitee.id,
                qualify_by=clock.now() + timedelta(days=30),
            )
        )
    ctx["session"].commit()


def _seed_staff(ctx):
    for _ in range(4):  # with the admin who lists them: 5
        ctx["make_staff"]("clerk")


def _seed_stores(ctx):
    for _ in range(4):  # with the member's store: 5
        ctx["make_store"]()


def _goods(ctx, n: int):
    from app.models.mall import MallItem

    item = MallItem(
        name=f"商品{n}", kind="goods", cost_points=10, stock_total=10, limit_per_member=10
    )
    ctx["session"].add(item)
    ctx["session"].commit()
    return item


def _seed_mall_items(ctx):
    for n in range(5):
        _goods(ctx, n)


def _seed_promotions(ctx):
    from datetime import UTC, datetime

    from app.models.promotions import Promotion

    for n in range(5):
        ctx["session"].add(
            Promotion(
                name=f"promo {n}",
                multiplier=2,
                starts_at=datetime(2027, 1, 1, tzinfo=UTC),
                ends_at=datetime(2027, 2, 1, tzinfo=UTC),
            )
        )
    ctx["session"].commit()


def _seed_my_exchanges(ctx):
    from app.services import mall

    item = _goods(ctx, 0)
    ctx["grant"](ctx["member"], 100)
    for _ in range(5):
        mall.exchange(ctx["session"], ctx["member"].id, item.id)
        ctx["session"].commit()


def _seed_my_purchases(ctx):
    from app.models.till import Purchase

    for n in range(5):
        ctx["session"].add(
            Purchase(
                store_id=ctx["member"].store_id,
                order_no=f"page-{n}",
                member_id=ctx["member"].id,
                amount_fen=100 + n,
                paid_at=clock.now(),
            )
        )
    ctx["session"].commit()


def _seed_my_draws(ctx):
    from app.models.lottery import LotteryDraw

    lottery = ctx["make_lottery"]([], name="抽奖")
    for _ in range(5):
        ctx["session"].add(
            LotteryDraw(
                lottery_id=lottery.id,
                member_id=ctx["member"].id,
                day=clock.business_today(),
                points_spent=10,
                outcome="no_prize",
            )
        )
    ctx["session"].commit()


def _seed_member_purchases(ctx):
    """The member's purchases, read by staff: the list at the member's own path."""
    _seed_my_purchases(ctx)
    return f"/staff/v1/members/{ctx['member'].id}/purchases"


def _seed_audit(ctx):
    from app.services.staff import audit

    staff = ctx["make_staff"]("manager")
    for n in range(5):
        audit.record(ctx["session"], staff, "member.adjust_points", "member", n, {"n": n})
    ctx["session"].commit()


def _seed_membership_plans(ctx):
    from app.models.membership import MembershipPlan

    for n in range(5):
        ctx["session"].add(MembershipPlan(name=f"plan {n}", price_fen=1000 + n, months=1 + n))
    ctx["session"].commit()


# The lists, and what puts five rows in each (returning the path to read when it has a
# parameter; the cursor cases read that path too).
SEEDS = {
    "/api/v1/me/draws": _seed_my_draws,
    "/staff/v1/members/{member_id}/purchases": _seed_member_purchases,
    "/staff/v1/admin/audit": _seed_audit,
    "/staff/v1/admin/membership-plans": _seed_membership_plans,
    "/api/v1/me/exchanges": _seed_my_exchanges,
    "/api/v1/me/purchases": _seed_my_purchases,
    "/staff/v1/admin/mall-items": _seed_mall_items,
    "/staff/v1/admin/promotions": _seed_promotions,
    "/api/v1/me/points/entries": _seed_points,
    "/api/v1/me/coupons": _seed_my_coupons,
    "/staff/v1/admin/coupon-templates": _seed_templates,
    "/staff/v1/admin/lotteries": _seed_lotteries,
    "/staff/v1/admin/campaigns": _seed_campaigns,
    "/staff/v1/admin/referrals": _seed_referrals,
    "/staff/v1/admin/staff": _seed_staff,
    "/staff/v1/admin/stores": _seed_stores,
}


@pytest.fixture
def world(
    session,
    make_store,
    make_staff,
    make_member,
    make_template,
    make_lottery,
    grant,
    member_headers,
    staff_headers,
):
    store = make_store()
    member = make_member(store=store)
    admin = make_staff("admin")
    ctx = {
        "session": session,
        "make_store": make_store,
        "make_staff": make_staff,
        "make_member": make_member,
        "make_template": make_template,
        "make_lottery": make_lottery,
        "grant": grant,
        "member": member,
    }
    ctx["headers"] = lambda path: (
        member_headers(member) if path.startswith("/api/") else staff_headers(admin)
    )
    return ctx


def test_every_paginated_list_is_covered(client):
    spec = client.get("/openapi.json").get_json()
    paginated = {
        path
        for path, item in spec["paths"].items()
        for operation in item.values()
        if isinstance(operation, dict)
        and any(p.get("name") == "cursor" for p in operation.get("parameters", []))
    }
    assert paginated == set(SEEDS)


@pytest.mark.parametrize("path", sorted(SEEDS))
def test_real_cursors_page_through_every_row_exactly_once(client, world, path):
    path = SEEDS[path](world) or path
    headers = world["headers"](path)
    whole = client.get(path, query_string={"limit": 100}, headers=headers)
    assert whole.status_code == 200, whole.get_json()
    expected = whole.get_json()["items"]
    assert len(expected) >= 5 and whole.get_json()["next_cursor"] is None
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        seen += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == (len(expected) + 1) // 2


@pytest.mark.parametrize("tampered", sorted(TAMPERED), ids=str)
@pytest.mark.parametrize("path", sorted(SEEDS))
def test_a_cursor_not_handed_out_is_422_on_every_list(client, world, path, tampered):
    path = path.replace("{member_id}", str(world["member"].id))
    response = client.get(
        path, query_string={"cursor": TAMPERED[tampered]}, headers=world["headers"](path)
    )
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert error_code(response) == "request.invalid"
    assert "cursor" in response.get_json()["error"]["details"]


@pytest.mark.parametrize("path", sorted(SEEDS))
def test_an_altered_real_cursor_is_422(client, world, path):
    """Flip one character of a cursor the list handed out, and sign one with another key."""
    path = SEEDS[path](world) or path
    headers = world["headers"](path)
    cursor = client.get(path, query_string={"limit": 1}, headers=headers).get_json()["next_cursor"]
    assert cursor
    flipped = cursor[:-1] + ("A" if cursor[-1] != "A" else "B")
    from itsdangerous import URLSafeSerializer

    payload = cursor.split(".")[0]
    foreign = URLSafeSerializer("another-secret-key-entirely", salt="cursor").dumps(
        json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    )
    for bad in (flipped, foreign, cursor + "x", "x" + cursor):
        response = client.get(path, query_string={"cursor": bad}, headers=headers)
        assert response.status_code == 422, (bad, response.get_data(as_text=True)[:300])
        assert error_code(response) == "request.invalid"
