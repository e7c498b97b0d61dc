"""A template's stock over several counter rows (coupon_stock_shards): sold out exactly at the
stock under real concurrent claims, keyed or not; the per-member limit held; stock raised or
cut by marketing while the sale runs."""

from __future__ import annotations

import random
import threading

import pytest
import requests
from sqlalchemy import func, select, update

from tests.concurrency import bulk_members, fire, member_auth

pytest_plugins = ["tests.engagement_factories"]


def _shards(session, template_id: int) -> list[tuple[int, int]]:
    from app.models.coupons import CouponStockShard

    session.expire_all()
    return session.execute(
        select(CouponStockShard.stock, CouponStockShard.issued)
        .where(CouponStockShard.template_id == template_id)
        .order_by(CouponStockShard.shard)
    ).all()


def _held_exactly(session, template_id: int) -> None:
    """Every holding counts exactly the coupons its member has (a refusal counted nothing)."""
    from app.models.coupons import Coupon, CouponHolding

    held = dict(
        session.execute(
            select(CouponHolding.member_id, CouponHolding.count).where(
                CouponHolding.template_id == template_id, CouponHolding.count > 0
            )
        ).all()
    )
    has = dict(
        session.execute(
            select(Coupon.member_id, func.count(Coupon.id))
            .where(Coupon.template_id == template_id)
            .group_by(Coupon.member_id)
        ).all()
    )
    assert held == has


def test_sharded_stock_sells_out_exactly_keyed_or_not(live_server, session, make_template):
    from app.models.coupons import STOCK_SHARDS, Coupon, CouponTemplate

    template = make_template(stock_total=997, limit_per_member=2)  # not a multiple of 16
    assert len(_shards(session, template.id)) == STOCK_SHARDS
    members = bulk_members(session, 1200)
    auth = {m: member_auth(m) for m in members}
    rng = random.Random(15)
    claimants = members * 2 + rng.sample(members, 600)  # 3,000 claims, some over the limit
    rng.shuffle(claimants)
    url = f"{live_server}/api/v1/coupons/{template.id}/claims"

    def call(n: int, member: int):
        headers = dict(auth[member])
        if n % 2:  # half of them with an Idempotency-Key: the key's claim folded in
            headers["Idempotency-Key"] = f"flash-{n}"
        return lambda s: s.post(url, headers=headers)

    session.commit()
    responses = fire([call(n, m) for n, m in enumerate(claimants)], clients=32)
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 997
    assert set(statuses) <= {201, 409}
    codes = {r.json()["error"]["code"] for r in responses if r.status_code == 409}
    assert codes <= {"coupon.out_of_stock", "coupon.limit_reached"}
    assert "coupon.out_of_stock" in codes
    shards = _shards(session, template.id)
    assert all(issued == stock for stock, issued in shards), shards
    assert sum(stock for stock, _ in shards) == 997
    assert session.get(CouponTemplate, template.id).issued == 997
    assert session.scalar(select(func.count(Coupon.id))) == 997
    assert session.scalar(select(func.count(func.distinct(Coupon.code)))) == 997
    _held_exactly(session, template.id)
    mine = {r.json()["coupon"]["id"] for r in responses if r.status_code == 201}
    assert len(mine) == 997  # every 201 is its own coupon


def test_stock_raised_while_the_sale_runs_sells_exactly_the_new_stock(
    live_server, session, make_template, make_staff, staff_headers
):
    from app.models.coupons import Coupon, CouponTemplate

    template = make_template(stock_total=300, limit_per_member=1)
    members = bulk_members(session, 700)
    auth = {m: member_auth(m) for m in members}
    marketer = staff_headers(make_staff("marketer"))
    url = f"{live_server}/api/v1/coupons/{template.id}/claims"
    admin = f"{live_server}/staff/v1/admin/coupon-templates/{template.id}"
    session.commit()
    changes: list = []

    def raise_midway():
        threading.Event().wait(0.5)
        changes.append(requests.patch(admin, json={"stock_total": 450}, headers=marketer))

    raiser = threading.Thread(target=raise_midway)
    raiser.start()
    responses = fire([lambda s, m=m: s.post(url, headers=auth[m]) for m in members], clients=32)
    raiser.join()
    assert changes[0].status_code == 200, changes[0].text
    # Whatever the order, what was issued is what the answers said, within the stock; and the
    # members who were refused can take the rest now.
    given = sum(r.status_code == 201 for r in responses)
    assert 300 <= given <= 450
    refused = [m for m, r in zip(members, responses, strict=True) if r.status_code == 409]
    later = fire([lambda s, m=m: s.post(url, headers=auth[m]) for m in refused], clients=32)
    assert given + sum(r.status_code == 201 for r in later) == 450
    shards = _shards(session, template.id)
    assert sum(s for s, _ in shards) == 450 and all(i == s for s, i in shards)
    assert session.get(CouponTemplate, template.id).issued == 450
    assert session.scalar(select(func.count(Coupon.id))) == 450
    _held_exactly(session, template.id)


def test_stock_cut_takes_what_is_not_issued_and_never_below_it(
    session, make_template, make_member, make_staff
):
    from app.errors import AppError
    from app.services.coupons import coupon_admin, issue_coupon

    template = make_template(stock_total=40, limit_per_member=50)
    member = make_member()
    for n in range(30):
        issue_coupon(session, template.id, member.id, source="push", ref=f"cut:{n}")
    session.commit()
    marketer = make_staff("marketer")
    coupon_admin.update_template(session, template.id, {"stock_total": 33}, marketer)
    shards = _shards(session, template.id)
    assert sum(s for s, _ in shards) == 33 and sum(i for _, i in shards) == 30
    assert all(0 <= i <= s for s, i in shards)
    with pytest.raises(AppError) as refused:
        coupon_admin.update_template(session, template.id, {"stock_total": 29}, marketer)
    assert refused.value.code == "coupon.stock_below_issued"
    assert refused.value.details == {"issued": 30}
    session.rollback()
    coupon_admin.update_template(session, template.id, {"stock_total": 30}, marketer)
    with pytest.raises(AppError) as out:
        issue_coupon(session, template.id, member.id, source="push", ref="cut:30")
    assert out.value.code == "coupon.out_of_stock"
    session.rollback()
    coupon_admin.update_template(session, template.id, {"stock_total": 1000}, marketer)
    shards = _shards(session, template.id)
    assert sum(s for s, _ in shards) == 1000 and sum(i for _, i in shards) == 30
    assert session.get(type(template), template.id).stock_left == 970
    for n in range(30, 40):  # the raised stock is claimable at once
        issue_coupon(session, template.id, member.id, source="push", ref=f"cut:{n}")
    session.commit()
    assert sum(i for _, i in _shards(session, template.id)) == 40


def test_a_folded_key_replays_refuses_a_mismatch_and_runs_once_at_once(
    live_server, session, make_template, make_member, member_headers
):
    from app.models.coupons import Coupon
    from app.models.idempotency import IdempotencyKey

    template = make_template(stock_total=50, limit_per_member=5)
    other = make_template(stock_total=50, limit_per_member=5)
    member = make_member()
    headers = member_headers(member, **{"Idempotency-Key": "tap-tap"})
    session.commit()
    url = f"{live_server}/api/v1/coupons/{template.id}/claims"
    # Ten taps at once with one key: one coupon; the others wait their turn or replay it.
    responses = fire([lambda s: s.post(url, headers=headers)] * 10, clients=10)
    assert {r.status_code for r in responses} <= {201, 409}
    for r in responses:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "idempotency.in_progress"
            assert r.headers["Retry-After"] == "1"
    assert session.scalar(select(func.count(Coupon.id))) == 1
    first = session.scalars(select(Coupon)).one()
    again = requests.post(url, headers=headers, timeout=10)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["coupon"]["code"] == first.code
    assert all(r.json() == again.json() for r in responses if r.status_code == 201)
    # The same key on another template is another request.
    mismatch = requests.post(
        f"{live_server}/api/v1/coupons/{other.id}/claims", headers=headers, timeout=10
    )
    assert mismatch.status_code == 409
    assert mismatch.json()["error"]["code"] == "idempotency.mismatch"
    # A refusal is an answer too, stored and replayed, even once stock is back.
    none_left = make_template(stock_total=0)
    session.commit()
    refusal_url = f"{live_server}/api/v1/coupons/{none_left.id}/claims"
    keyed = member_headers(member, **{"Idempotency-Key": "sold-out"})
    refused = requests.post(refusal_url, headers=keyed, timeout=10)
    assert refused.json()["error"]["code"] == "coupon.out_of_stock"
    replayed = requests.post(refusal_url, headers=keyed, timeout=10)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert (replayed.status_code, replayed.json()) == (409, refused.json())
    # A key left pending by the mechanism before this one is taken over: the work runs once.
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.key == "tap-tap")
        .values(state="pending", response_body=None)
    )
    session.commit()
    taken_over = requests.post(url, headers=headers, timeout=10)
    assert taken_over.status_code == 201 and "Idempotent-Replayed" not in taken_over.headers
    assert session.scalar(select(func.count(Coupon.id))) == 2
    assert requests.post(url, headers=headers, timeout=10).json() == taken_over.json()
