"""Coupons under real concurrent HTTP requests against PostgreSQL."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from tests.concurrency import bulk_members, fire, member_auth

pytest_plugins = ["tests.engagement_factories"]


def test_flash_claim_never_oversells_nor_exceeds_the_limit(live_server, session, make_template):
    from app.models.coupons import Coupon, CouponTemplate

    template = make_template(stock_total=1000, limit_per_member=2)
    members = bulk_members(session, 2000)
    auth = {m: member_auth(m) for m in members}
    rng = random.Random(4)
    # 5,000 claims: every member at least twice, some three times (over their limit).
    claimants = members * 2 + rng.sample(members, 1000)
    rng.shuffle(claimants)
    url = f"{live_server}/api/v1/coupons/{template.id}/claims"
    session.commit()  # no transaction left idle while the claims run (idle-in-transaction: 30 s)
    responses = fire([lambda s, m=m: s.post(url, headers=auth[m]) for m in claimants], clients=32)
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1000
    codes = {r.json()["error"]["code"] for r in responses if r.status_code == 409}
    assert codes <= {"coupon.out_of_stock", "coupon.limit_reached"}
    assert len(statuses) == 5000 and set(statuses) <= {201, 409}
    session.expire_all()
    assert session.scalar(select(func.count(Coupon.id))) == 1000
    assert session.get(CouponTemplate, template.id).issued == 1000
    most = session.scalar(
        select(func.count(Coupon.id))
        .group_by(Coupon.member_id)
        .order_by(func.count(Coupon.id).desc())
        .limit(1)
    )
    assert most <= 2
    assert session.scalar(select(func.count(func.distinct(Coupon.code)))) == 1000


def test_one_coupon_redeemed_by_two_clerks_at_once_is_used_once(
    live_server, session, make_member, make_staff, staff_headers, make_template
):
    from app.models.coupons import CouponRedemption
    from app.services.coupons import issue_coupon

    template = make_template()
    clerks = [make_staff("clerk"), make_staff("clerk")]
    heads = [staff_headers(c) for c in clerks]
    url = f"{live_server}/staff/v1/coupons/redemptions"
    for round_ in range(10):  # ten coupons, each raced by both clerks
        coupon = issue_coupon(
            session, template.id, make_member().id, source="push", ref=f"race:{round_}"
        )
        session.commit()
        calls = [
            lambda s, i=i, code=coupon.code: s.post(
                url,
                json={"coupon_code": code, "order_no": f"O{i}", "order_amount_fen": 20000},
                headers=heads[i],
            )
            for i in (0, 1)
        ]
        statuses = sorted(r.status_code for r in fire(calls, clients=2))
        assert statuses == [201, 409]
    assert session.scalar(select(func.count(CouponRedemption.id))) == 10
