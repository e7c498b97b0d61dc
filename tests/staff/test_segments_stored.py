"""The segments report stored by the nightly refresh: what a request for the default period
reads (one row, not every member and purchase), how it ages, and when the figures are live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app import clock
from app.models import Purchase
from app.services import segments
from tests.test_coupons_statements import counting

NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, after the night's refresh
URL = "/staff/v1/admin/segments"


def _buy(session, member, store, days_ago, amount, refunded=0, n=iter(range(1, 10_000))):
    session.add(
        Purchase(
            store_id=store.id,
            order_no=f"s{next(n)}",
            member_id=member.id,
            amount_fen=amount,
            refunded_fen=refunded,
            paid_at=NOW - timedelta(days=days_ago),
        )
    )


def _figures(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("source", "figures_computed_at")}


def _north(body: dict) -> dict:
    return next(s for s in body["stores"] if s["name"] == "North")


def test_the_default_report_is_the_stored_one_and_matches_a_live_computation(
    app, client, session, make_store, make_member, make_staff, staff_headers
):
    clock.freeze(NOW)
    north = make_store(name="North")
    ann, bob = (make_member(north, joined_at=NOW - timedelta(days=400)) for _ in range(2))
    _buy(session, ann, north, 100, 10_000)
    _buy(session, ann, north, 95, 4_000)
    _buy(session, bob, north, 50, 6_000)
    session.commit()
    marketer = staff_headers(make_staff("marketer"))

    before = client.get(URL, headers=marketer).get_json()
    assert before["source"] == "live"  # no refresh yet: nothing stored
    segments.refresh(session, NOW - timedelta(hours=2))

    with counting(app) as sent:
        stored = client.get(URL, headers=marketer)
    assert stored.status_code == 200, stored.get_json()
    body = stored.get_json()
    assert body["source"] == "stored"
    assert body["figures_computed_at"] == "2026-06-15T02:00:00+00:00"
    assert body["period"] == {"from": "2025-06-16", "to": "2026-06-15"}
    reads = [s for s in sent if "purchases" in s or "FROM members" in s]
    assert reads == [], reads  # no member or purchase is read for the stored figures
    live = client.get(URL + "?live=true", headers=marketer).get_json()
    assert live["source"] == "live"
    assert _figures(live) == _figures(body)
    north_figures = _north(body)
    assert (north_figures["buyers"], north_figures["one_time_buyers"]) == (2, 1)
    assert north_figures["came_back_within_90_days"] == 1


def test_the_stored_report_ages_until_the_next_refresh_and_other_periods_are_live(
    client, session, make_store, make_member, make_staff, staff_headers
):
    clock.freeze(NOW)
    north = make_store(name="North")
    ann = make_member(north, joined_at=NOW - timedelta(days=400))
    _buy(session, ann, north, 100, 10_000)
    session.commit()
    segments.refresh(session, NOW - timedelta(hours=2))
    marketer = staff_headers(make_staff("marketer"))

    newcomer = make_member(north, joined_at=NOW - timedelta(hours=1))
    _buy(session, newcomer, north, 0, 3_000)
    session.commit()
    stored = client.get(URL, headers=marketer).get_json()
    assert (stored["source"], _north(stored)["buyers"], _north(stored)["members"]) == (
        "stored",
        1,
        1,
    )
    same_period = client.get(URL + "?from=2025-06-16&to=2026-06-15", headers=marketer).get_json()
    assert same_period["source"] == "stored"
    live = client.get(URL + "?live=1", headers=marketer).get_json()
    assert (_north(live)["buyers"], _north(live)["members"]) == (2, 2)
    other = client.get(URL + "?from=2026-01-01&to=2026-06-15", headers=marketer).get_json()
    assert other["source"] == "live" and other["period"] == {
        "from": "2026-01-01",
        "to": "2026-06-15",
    }
    assert _north(other)["sales_new_members_fen"] == 3_000

    csv_stored = client.get(URL + "/stores.csv", headers=marketer).get_data(as_text=True)
    csv_live = client.get(URL + "/stores.csv?live=true", headers=marketer).get_data(as_text=True)
    assert csv_stored != csv_live  # the export reads what the page shows: the stored figures

    segments.refresh(session, NOW + timedelta(hours=1))
    next_night = client.get(URL, headers=marketer).get_json()
    assert next_night["source"] == "stored" and _north(next_night)["buyers"] == 2


def test_orders_refunded_in_full_are_not_buying(
    client, session, make_store, make_member, make_staff, staff_headers
):
    """A member whose only order was refunded in full is not a buyer, live or stored; a part
    refund still counts."""
    clock.freeze(NOW)
    north = make_store(name="North")
    gone, kept = (make_member(north, joined_at=NOW - timedelta(days=400)) for _ in range(2))
    _buy(session, gone, north, 30, 5_000, refunded=5_000)
    _buy(session, kept, north, 30, 5_000, refunded=1_000)
    session.commit()
    marketer = staff_headers(make_staff("marketer"))
    live = _north(client.get(URL, headers=marketer).get_json())
    segments.refresh(session, NOW)
    stored = _north(client.get(URL, headers=marketer).get_json())
    for figures in (live, stored):
        assert (figures["buyers"], figures["bought_last_12_months"]) == (1, 1)
        assert figures["sales_earlier_members_fen"] == 4_000
