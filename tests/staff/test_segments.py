"""GET /staff/v1/admin/segments and its CSV exports; the segments program settings."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from app import clock
from app.models import Purchase
from app.models.segments import MemberSegment
from app.services import segments
from tests.conftest import error_code

NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)


def _buy(session, member, store, days_ago: int, amount: int, n=iter(range(1, 10_000))):
    session.add(
        Purchase(
            store_id=store.id,
            order_no=f"r{next(n)}",
            member_id=member.id,
            amount_fen=amount,
            paid_at=NOW - timedelta(days=days_ago),
        )
    )


def test_store_figures(client, session, make_store, make_member, make_staff, staff_headers):
    clock.freeze(NOW)
    north, south = make_store(name="North"), make_store(name="South")
    # North: ann (joined 2 years ago, came back 10 days after her first purchase, bought
    # recently), bob (joined 20 days ago, bought once), cid (joined 3 years ago, bought once
    # 500 days ago at South). South: dee, who never bought.
    ann = make_member(north, joined_at=NOW - timedelta(days=730))
    bob = make_member(north, joined_at=NOW - timedelta(days=20))
    cid = make_member(north, joined_at=NOW - timedelta(days=1100))
    make_member(south, joined_at=NOW - timedelta(days=40))
    _buy(session, ann, north, 400, 10_000)
    _buy(session, ann, north, 390, 5_000)
    _buy(session, ann, north, 3, 7_000)
    _buy(session, bob, north, 1, 2_000)
    _buy(session, cid, south, 500, 9_000)
    session.commit()
    segments.refresh(session, NOW)

    marketer = make_staff("marketer")
    response = client.get("/staff/v1/admin/segments", headers=staff_headers(marketer))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["period"] == {"from": "2025-06-16", "to": "2026-06-15"}
    chain = body["chain"]
    assert chain["members"] == 4
    assert {i["stage"]: i["members"] for i in chain["lifecycle"]} == {
        "new": 1,
        "active": 1,
        "sleeping": 1,
        "lost": 1,
    }
    # In the window: ann 3 days ago for 70 yuan, bob yesterday for 20 (averages: 2 days, 45).
    assert {i["group"]: i["members"] for i in chain["rfm"] if i["members"]} == {
        "重要挽留": 1,
        "一般发展": 1,
        "无消费": 2,
    }
    stores = {s["name"]: s for s in body["stores"]}
    n = stores["North"]
    assert n["members"] == 3 and n["buyers"] == 3
    assert n["bought_last_12_months"] == 2 and n["bought_last_12_months_share"] == 0.6667
    assert n["one_time_buyers"] == 2 and n["one_time_buyer_share"] == 0.6667
    # ann and cid had their first purchase 90+ days ago; only ann came back within 90 days.
    assert n["first_time_buyers_90_days_ago"] == 2 and n["came_back_within_90_days"] == 1
    assert n["came_back_within_90_days_share"] == 0.5
    assert n["signups_by_month"] == [{"month": "2026-05", "members": 1}]
    # Sales at North in the period: bob joined in it (2,000), ann earlier (7,000).
    assert (n["sales_new_members_fen"], n["sales_earlier_members_fen"]) == (2_000, 7_000)
    s = stores["South"]
    assert s["members"] == 1 and s["buyers"] == 0 and s["one_time_buyer_share"] is None
    assert s["signups_by_month"] == [{"month": "2026-05", "members": 1}]
    assert (s["sales_new_members_fen"], s["sales_earlier_members_fen"]) == (0, 0)

    # A chosen period: cid's purchase at South falls inside it, and he joined before it.
    old = client.get(
        "/staff/v1/admin/segments?from=2025-01-01&to=2025-03-31", headers=staff_headers(marketer)
    ).get_json()
    south_then = next(x for x in old["stores"] if x["name"] == "South")
    assert south_then["sales_earlier_members_fen"] == 9_000

    export = client.get("/staff/v1/admin/segments/stores.csv", headers=staff_headers(marketer))
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    north_row = next(r for r in rows if r["name"] == "North")
    assert north_row["bought_last_12_months_share"] == "0.6667"
    rfm = client.get("/staff/v1/admin/segments/rfm.csv", headers=staff_headers(marketer))
    text = rfm.get_data(as_text=True)
    assert "chain,,,重要挽留,1" in text
    for figure in ("lifecycle", "signups"):
        ok = client.get(f"/staff/v1/admin/segments/{figure}.csv", headers=staff_headers(marketer))
        assert ok.status_code == 200
    missing = client.get("/staff/v1/admin/segments/secrets.csv", headers=staff_headers(marketer))
    assert missing.status_code == 404


def test_segments_need_a_marketer(client, make_staff, staff_headers):
    manager = make_staff("manager")
    response = client.get("/staff/v1/admin/segments", headers=staff_headers(manager))
    assert response.status_code == 403
    bad = client.get(
        "/staff/v1/admin/segments?from=2026-02-01&to=2026-01-01",
        headers=staff_headers(make_staff("marketer")),
    )
    assert bad.status_code == 422 and error_code(bad) == "request.invalid"


def test_admin_reads_and_changes_the_segment_settings(client, make_staff, staff_headers):
    admin = make_staff("admin")
    url = "/staff/v1/admin/programs/segments"
    assert client.get(url, headers=staff_headers(admin)).get_json() == {
        "window_days": 365,
        "new_days": 30,
        "active_days": 90,
        "lost_days": 180,
    }
    new = {"window_days": 180, "new_days": 14, "active_days": 60, "lost_days": 120}
    response = client.put(url, json=new, headers=staff_headers(admin))
    assert response.status_code == 200 and response.get_json() == new
    assert client.get(url, headers=staff_headers(admin)).get_json() == new
    bad = client.put(url, json={**new, "lost_days": 30}, headers=staff_headers(admin))
    assert bad.status_code == 422
    marketer = make_staff("marketer")
    assert client.get(url, headers=staff_headers(marketer)).status_code == 403


def test_a_looked_up_member_shows_their_segment(
    client, session, make_store, make_member, make_staff, staff_headers
):
    clock.freeze(NOW)
    store = make_store()
    # Enough repeat buyers for the model: most buy every one to four weeks until now (the first
    # every two), a few stopped a year ago after buying every two weeks.
    regulars = [make_member(store, joined_at=NOW - timedelta(days=400)) for _ in range(20)]
    lapsed = [make_member(store, joined_at=NOW - timedelta(days=400)) for _ in range(5)]
    for i, member in enumerate(regulars):
        for days_ago in range(2, 300, (14, 7, 21, 28)[i % 4]):
            _buy(session, member, store, days_ago, 5_000)
    for member in lapsed:
        for days_ago in range(300, 380, 14):
            _buy(session, member, store, days_ago, 5_000)
    session.commit()
    segments.refresh(session, NOW)
    newcomer = make_member(store, joined_at=NOW)  # joined after the night's refresh

    manager = staff_headers(make_staff("manager", store=store))

    def segment_of(member):
        response = client.get(f"/staff/v1/members?member_no={member.member_no}", headers=manager)
        assert response.status_code == 200, response.get_json()
        (item,) = response.get_json()["items"]
        assert item["id"] == member.id
        return item["segment"]

    regular, gone = segment_of(regulars[0]), segment_of(lapsed[0])
    assert regular["lifecycle_stage"] == "active" and regular["recency_days"] == 2
    assert regular["frequency"] == 22 and regular["monetary_fen"] == 110_000
    assert regular["rfm_group"] == "重要价值"
    assert gone["lifecycle_stage"] == "lost" and gone["rfm_group"] == "一般挽留"
    assert 0 <= gone["p_alive"] < 0.5 < regular["p_alive"] <= 1
    assert gone["expected_purchases_90d"] < 1 < regular["expected_purchases_90d"]
    assert segment_of(newcomer) is None


def test_purchases_and_refunds_at_the_till_reach_the_next_nights_segments(
    client, session, make_store, make_member, make_staff, staff_headers, scan_for
):
    """The refresh recomputes a member when the till changes their purchases: a refund of one
    order and a part refund of another show in the next night's figures."""
    store = make_store()
    clerk = make_staff("clerk", store=store)
    member = make_member(store, joined_at=NOW - timedelta(days=200))
    headers = staff_headers(clerk)
    clock.freeze(NOW - timedelta(hours=2))
    scan_id = scan_for(member, clerk)
    for order_no, amount in (("T-1", 10_000), ("T-2", 5_000)):
        body = {"scan_id": scan_id, "order_no": order_no, "amount_fen": amount}
        assert client.post("/staff/v1/purchases", json=body, headers=headers).status_code == 201
    segments.refresh(session, NOW)
    session.expire_all()
    seen = session.get(MemberSegment, member.id)
    assert (seen.frequency, seen.monetary_fen, seen.recency_days) == (2, 15_000, 0)

    def refund(order_no, refund_no, amount):
        response = client.post(
            f"/staff/v1/purchases/{order_no}/refunds",
            json={"refund_no": refund_no, "amount_fen": amount},
            headers=headers,
        )
        assert response.status_code == 201, response.get_json()

    clock.freeze(NOW + timedelta(hours=3))
    refund("T-1", "R-1", 10_000)  # in full: as if never bought
    refund("T-2", "R-2", 2_000)
    night = segments.refresh(session, NOW + timedelta(days=1))
    assert night["summaries_recomputed"] == 1
    session.expire_all()
    seen = session.get(MemberSegment, member.id)
    assert (seen.frequency, seen.monetary_fen, seen.recency_days) == (1, 3_000, 1)


@pytest.mark.parametrize(
    "query",
    ["to=9999-12-31", "from=0001-01-01", "to=0001-06-01", "from=1969-12-31&to=2026-01-01"],
)
def test_dates_outside_a_sane_range_are_422_not_500(client, make_staff, staff_headers, query):
    """A business day past 2099 or before 1970 (the oldest history an import takes) is a typo;
    it was a 500 (the period's instants overflow). Issue 14, item 8."""
    marketer = staff_headers(make_staff("marketer"))
    for path in ("/staff/v1/admin/segments", "/staff/v1/admin/segments/stores.csv"):
        response = client.get(f"{path}?{query}", headers=marketer)
        assert response.status_code == 422, (path, query)
        assert error_code(response) == "request.invalid"
    fine = client.get("/staff/v1/admin/segments?from=1997-01-01&to=1998-06-30", headers=marketer)
    assert fine.status_code == 200
