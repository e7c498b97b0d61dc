"""The points mall under real concurrent HTTP requests against PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter

import requests
from sqlalchemy import func, select

from tests.concurrency import bulk_members, fire, member_auth

pytest_plugins = ["tests.engagement_factories", "tests.mall_factories"]


def test_a_flash_exchange_gives_exactly_the_stock_within_limits_and_points(
    live_server, session, make_item
):
    """2,000 exchanges of an item with stock 100 by 500 members at once: exactly 100 exchanges,
    nobody over the limit (2) nor over their points (half of them can afford one), and every
    point accounted for (balances + points spent = points granted)."""
    from app.models import Member
    from app.models.mall import MallExchange, MallHolding, MallItem
    from app.models.points import PointEntry

    item = make_item(cost_points=100, stock_total=100, limit_per_member=2)
    rich = bulk_members(session, 250, points=250)  # may exchange 2 (the limit)
    poor = bulk_members(session, 250, points=150)  # may afford 1
    members = rich + poor
    granted = 250 * 250 + 250 * 150
    auth = {m: member_auth(m) for m in members}
    tapping = members * 4  # 2,000 exchanges, 4 a member
    random.Random(16).shuffle(tapping)
    url = f"{live_server}/api/v1/mall/items/{item.id}/exchanges"
    session.commit()
    responses = fire([lambda s, m=m: s.post(url, json={}, headers=auth[m]) for m in tapping])

    statuses = Counter(r.status_code for r in responses)
    assert statuses[201] == 100 and set(statuses) <= {201, 409}, statuses
    codes = Counter(r.json()["error"]["code"] for r in responses if r.status_code == 409)
    assert set(codes) <= {"mall.out_of_stock", "mall.limit_reached", "points.insufficient"}
    session.expire_all()
    assert session.scalar(select(func.count(MallExchange.id))) == 100
    assert session.get(MallItem, item.id).exchanged == 100
    per_member = Counter(
        session.scalars(select(MallExchange.member_id).where(MallExchange.item_id == item.id))
    )
    assert max(per_member.values()) <= 2
    assert all(per_member[m] <= 1 for m in poor)
    held = dict(session.execute(select(MallHolding.member_id, MallHolding.count)).all())
    assert {m: c for m, c in held.items() if c} == dict(per_member)
    codes_given = session.scalars(select(MallExchange.pickup_code)).all()
    assert len(set(codes_given)) == 100

    balances = session.scalar(select(func.sum(Member.points_balance)))
    spent = session.scalar(select(func.sum(MallExchange.points_spent)))
    assert spent == 100 * 100
    assert balances + spent == granted
    charged = session.scalar(select(func.sum(PointEntry.delta)).where(PointEntry.reason == "mall"))
    assert -charged == spent
    assert min(session.scalars(select(Member.points_balance))) >= 0


def test_cancel_tapped_at_once_returns_the_points_once(
    live_server, session, make_item, make_member, grant
):
    from app.models import Member
    from app.models.mall import MallItem
    from app.models.points import PointEntry

    item = make_item(cost_points=300, stock_total=5)
    member = make_member()
    grant(member, 1000)
    auth = member_auth(member.id)
    made = requests.post(f"{live_server}/api/v1/mall/items/{item.id}/exchanges", headers=auth)
    assert made.status_code == 201, made.text
    url = f"{live_server}/api/v1/me/exchanges/{made.json()['exchange']['id']}/cancel"
    # 20 taps: half with their own Idempotency-Key (a retrying client), half without.
    calls = [
        lambda s, i=i: s.post(
            url, headers={**auth, **({"Idempotency-Key": f"c{i}"} if i % 2 else {})}
        )
        for i in range(20)
    ]
    statuses = Counter(r.status_code for r in fire(calls, clients=20))
    assert statuses == {200: 1, 409: 19}, statuses
    session.expire_all()
    assert session.get(Member, member.id).points_balance == 1000
    refunds = session.scalar(
        select(func.count(PointEntry.id)).where(PointEntry.reason == "mall_cancel")
    )
    assert refunds == 1
    assert session.get(MallItem, item.id).exchanged == 0


def test_two_clerks_collecting_one_pickup_code_at_once_hand_it_over_once(
    live_server, session, make_item, make_member, grant, make_staff, staff_headers
):
    item = make_item(stock_total=10, limit_per_member=10)
    member = make_member()
    grant(member, 10_000)
    clerks = [staff_headers(make_staff("clerk")) for _ in range(2)]
    auth = member_auth(member.id)
    url = f"{live_server}/staff/v1/exchanges/collect"
    for _ in range(5):
        made = requests.post(f"{live_server}/api/v1/mall/items/{item.id}/exchanges", headers=auth)
        body = {"pickup_code": made.json()["exchange"]["pickup_code"]}
        calls = [lambda s, h=h, b=body: s.post(url, json=b, headers=h) for h in clerks]
        assert sorted(r.status_code for r in fire(calls, clients=2)) == [200, 409]
