"""The audience filter: each criterion narrows the members reached; the preview counts them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.errors import AppError
from app.models import Purchase
from app.models.segments import MemberSegment, SegmentModelValue
from app.services.messaging import audiences
from tests.conftest import error_code

NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)


@pytest.fixture
def chain(session, make_store, make_member):
    """Five members across two stores with segments, tiers, balances and purchases."""
    north, south = make_store(), make_store()
    people = {
        "ann": make_member(north, tier_code="gold", points_balance=5000),
        "bob": make_member(north, tier_code="", points_balance=100),
        "cat": make_member(south, tier_code="silver", points_balance=1500),
        "dan": make_member(south, tier_code="normal", points_balance=0),
        "eve": make_member(north, tier_code="normal", points_balance=20),  # not refreshed yet
    }
    segments = {
        "ann": ("active", "重要价值", 0.95),
        "bob": ("sleeping", "一般挽留", 0.40),
        "cat": ("active", "重要发展", 0.80),
        "dan": ("lost", None, 0.05),
    }
    for key, (name, (stage, group, p_alive)) in enumerate(segments.items()):
        # The odds live with the member's purchase pattern (here one pattern each).
        session.add(SegmentModelValue(k=key, p_alive=p_alive, expected=None))
        session.add(
            MemberSegment(
                member_id=people[name].id,
                lifecycle_stage=stage,
                stage_since=date(2026, 1, 1),
                rfm_group=group,
                frequency=0,
                monetary_fen=0,
                model_key=key,
                computed_at=NOW,
            )
        )
    # Last purchases (business days, Asia/Shanghai): ann 06-10, bob 03-01, cat 05-31 and 06-01.
    for n, (name, paid_at) in enumerate(
        [
            ("ann", datetime(2026, 6, 10, 3, tzinfo=UTC)),
            ("bob", datetime(2026, 3, 1, 3, tzinfo=UTC)),
            ("cat", datetime(2026, 5, 31, 3, tzinfo=UTC)),
            # 2026-05-31 17:30 UTC is already 06-01 in Shanghai.
            ("cat", datetime(2026, 5, 31, 17, 30, tzinfo=UTC)),
        ]
    ):
        member = people[name]
        session.add(
            Purchase(
                store_id=member.store_id,
                order_no=f"o{n}",
                member_id=member.id,
                amount_fen=1000,
                paid_at=paid_at,
            )
        )
    session.commit()
    return {"stores": (north, south), **people}


def _reached(session, chain, filter: dict) -> set[str]:
    ids = set(session.execute(audiences.member_ids_query(filter)).scalars())
    return {name for name, m in chain.items() if name != "stores" and m.id in ids}


def test_empty_filter_reaches_every_member(session, chain):
    assert _reached(session, chain, {}) == {"ann", "bob", "cat", "dan", "eve"}
    assert audiences.count(session, {}) == 5


def test_each_criterion_narrows_the_audience(session, chain):
    north, south = chain["stores"]
    cases = [
        ({"lifecycle_stages": ["active"]}, {"ann", "cat"}),
        # A member the nightly refresh has not seen yet signed up since: new.
        ({"lifecycle_stages": ["new", "lost"]}, {"dan", "eve"}),
        ({"rfm_groups": ["重要价值", "重要发展"]}, {"ann", "cat"}),
        # Members never evaluated (tier '') are in the lowest tier.
        ({"tiers": ["normal"]}, {"bob", "dan", "eve"}),
        ({"tiers": ["gold", "silver"]}, {"ann", "cat"}),
        ({"store_ids": [south.id]}, {"cat", "dan"}),
        ({"points_min": 100, "points_max": 1500}, {"bob", "cat"}),
        ({"points_max": 20}, {"dan", "eve"}),
        ({"p_alive_min": 0.5}, {"ann", "cat"}),
        ({"p_alive_max": 0.5}, {"bob", "dan"}),
        # Last purchase on a business day inside the range (the latest one counts).
        ({"last_purchase_from": date(2026, 6, 1)}, {"ann", "cat"}),
        ({"last_purchase_to": date(2026, 5, 31)}, {"bob"}),
        ({"last_purchase_from": "2026-02-01", "last_purchase_to": "2026-06-01"}, {"bob", "cat"}),
        ({"lifecycle_stages": ["active"], "store_ids": [north.id]}, {"ann"}),
    ]
    for filter, expected in cases:
        assert _reached(session, chain, filter) == expected, filter
        assert audiences.count(session, filter) == len(expected), filter


def test_unknown_stage_or_group_is_refused(session, chain):
    for bad in (
        {"lifecycle_stages": ["dormant"]},
        {"rfm_groups": ["VIP"]},
        {"p_alive_min": 1.5},
        {"points_min": 10, "points_max": 5},
        {"colour": "red"},
    ):
        with pytest.raises(AppError) as caught:
            audiences.count(session, bad)
        assert caught.value.status == 422


def test_member_ids_query_feeds_an_insert_select(session, chain):
    """Campaigns copy an audience with INSERT ... SELECT: the query works as a subquery."""
    from sqlalchemy import func, select

    from app.models import Member

    sub = audiences.member_ids_query({"lifecycle_stages": ["active"]}).subquery()
    total = session.execute(
        select(func.sum(Member.points_balance)).where(Member.id.in_(select(sub.c.id)))
    ).scalar_one()
    assert total == 6500


def test_preview_endpoint_counts_for_marketers_only(client, chain, make_staff, staff_headers):
    marketer = make_staff("marketer")
    response = client.post(
        "/staff/v1/admin/audiences/preview",
        json={"filter": {"lifecycle_stages": ["active", "sleeping"], "points_min": 100}},
        headers=staff_headers(marketer),
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"count": 3}
    assert client.post(
        "/staff/v1/admin/audiences/preview", json={}, headers=staff_headers(marketer)
    ).get_json() == {"count": 5}
    bad = client.post(
        "/staff/v1/admin/audiences/preview",
        json={"filter": {"rfm_groups": ["VIP"]}},
        headers=staff_headers(marketer),
    )
    assert bad.status_code == 422
    assert error_code(bad) == "request.invalid"
    manager = make_staff("manager")
    refused = client.post(
        "/staff/v1/admin/audiences/preview", json={"filter": {}}, headers=staff_headers(manager)
    )
    assert refused.status_code == 403
