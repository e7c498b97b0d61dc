"""The bulk coupon push of the nightly wake-up: stock and per-member limits exact, under real
concurrent flash claims over HTTP on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from app import clock
from app.models.coupons import Coupon, CouponHolding, CouponTemplate
from app.services.coupons import coupon_push, issue_coupon
from tests.concurrency import bulk_members, fire, member_auth

pytest_plugins = ["tests.engagement_factories"]
NOW = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)


def _held(session, template_id) -> dict[int, int]:
    session.expire_all()
    rows = session.execute(
        select(CouponHolding.member_id, CouponHolding.count).where(
            CouponHolding.template_id == template_id
        )
    ).all()
    return dict(rows)


def test_a_bulk_push_gives_at_most_the_stock_and_respects_each_limit(session, make_template):
    template = make_template(stock_total=5, limit_per_member=1, claimable=False)
    members = bulk_members(session, 8)
    # The first member already holds the one allowed: the push skips them.
    issue_coupon(session, template.id, members[0], source="push", ref="earlier", now=NOW)
    session.commit()
    refs = [f"wakeup:{m}:2026-11-30" for m in members]
    given = coupon_push.push_coupons(session, template.id, members, refs, source="wakeup", now=NOW)
    session.commit()
    assert given == 4  # 5 in stock, 1 already issued
    session.expire_all()
    assert session.get(CouponTemplate, template.id).issued == 5
    coupons = session.execute(select(Coupon).where(Coupon.template_id == template.id)).scalars()
    coupons = list(coupons)
    assert len(coupons) == 5 and len({c.code for c in coupons}) == 5
    assert all(len(c.code) == 16 for c in coupons)
    assert sorted(c.member_id for c in coupons if c.source == "wakeup") == members[1:5]
    assert _held(session, template.id) == {m: 1 for m in members[:5]}
    # Again, the same refs: nothing more (and no stock left anyway).
    assert (
        coupon_push.push_coupons(session, template.id, members, refs, source="wakeup", now=NOW) == 0
    )


def test_a_second_push_with_the_same_refs_gives_nothing_more(session, make_template):
    template = make_template(stock_total=100, limit_per_member=3, claimable=False)
    members = bulk_members(session, 10)
    refs = [f"wakeup:{m}:k" for m in members]
    assert (
        coupon_push.push_coupons(session, template.id, members, refs, source="wakeup", now=NOW)
        == 10
    )
    session.commit()
    assert (
        coupon_push.push_coupons(session, template.id, members, refs, source="wakeup", now=NOW) == 0
    )
    session.commit()
    session.expire_all()
    assert session.get(CouponTemplate, template.id).issued == 10
    assert set(_held(session, template.id).values()) == {1}


def test_a_bulk_push_racing_flash_claims_never_oversells(app, live_server, session, make_template):
    template = make_template(stock_total=300, limit_per_member=1)
    claimants = bulk_members(session, 250)
    woken = bulk_members(session, 250)
    both = claimants[:50]  # claim in the app and are woken in the same moment
    auth = {m: member_auth(m) for m in claimants}
    url = f"{live_server}/api/v1/coupons/{template.id}/claims"
    clock.freeze(NOW)
    pushed: dict = {}

    def push() -> None:
        with app.app_context():
            from app.extensions import db

            targets = woken + both
            for start in range(0, len(targets), 50):  # batches, as the job does
                part = targets[start : start + 50]
                refs = [f"wakeup:{m}:race" for m in part]
                pushed[start] = coupon_push.push_coupons(
                    db.session, template.id, part, refs, source="wakeup", now=NOW
                )
                db.session.commit()
            db.session.remove()

    pusher = threading.Thread(target=push)
    pusher.start()
    responses = fire([lambda s, m=m: s.post(url, headers=auth[m]) for m in claimants], clients=16)
    pusher.join()
    claimed = sum(r.status_code == 201 for r in responses)
    assert {r.status_code for r in responses} <= {201, 409}
    session.expire_all()
    total = session.scalar(select(func.count(Coupon.id)).where(Coupon.template_id == template.id))
    assert total == claimed + sum(pushed.values()) == 300  # demand 550: the stock, exactly
    assert session.get(CouponTemplate, template.id).issued == 300
    per_member = session.execute(
        select(Coupon.member_id, func.count()).group_by(Coupon.member_id)
    ).all()
    assert max(n for _, n in per_member) == 1  # limit 1, even for those who did both
    assert _held(session, template.id) == dict(per_member)
