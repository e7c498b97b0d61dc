"""The analytics page and the sign-up leaderboard in the browser, on planted data: the page shows
the API's figures, the filters change them, the CSV downloads hold the same numbers, and each
page is offered to the roles whose API answers them."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import clock
from tests.analytics.business import plant
from tests.staff.test_signups import _plant as plant_signups

pytestmark = pytest.mark.browser


def share(x) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def yuan(fen) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def signed(fen) -> str:
    return f"+{yuan(fen)}" if fen > 0 else yuan(fen)


def downloaded(page, button: str) -> tuple[str, list[list[str]]]:
    with page.expect_download() as download:
        page.click(button)
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    return download.value.suggested_filename, list(csv.reader(text.splitlines()))


def loaded(page, *sections: str) -> None:
    for section in sections:
        page.wait_for_selector(f"[data-testid={section}][data-loaded=yes]")


def text(page, selector: str) -> str:
    return page.inner_text(selector).strip()


def test_marketer_reads_the_analytics_as_the_api_gives_them(
    page, shot, sign_in, make_staff, make_store, make_member, session, client, staff_headers
):
    business = plant(session, make_store, make_member)  # the clock: 10 June 2026, Shanghai
    marketer = make_staff("marketer")
    headers = staff_headers(marketer)
    sign_in(marketer, "/console/analytics")
    loaded(page, "gmv", "cohorts", "repurchase", "baskets")
    # The last whole month and its drivers, as the API answers them.
    assert page.input_value("[data-testid=gmv-month]") == "2026-05"
    api = client.get("/staff/v1/admin/analytics/gmv?month=2026-05", headers=headers).get_json()
    assert text(page, "[data-testid=fig-gmv] strong") == yuan(api["gmv_fen"]) == "¥180.00"
    assert text(page, "[data-testid=fig-gmv-change] strong") == "+¥60.00"
    assert text(page, "[data-testid=fig-gmv-new] strong") == "¥80.00"
    assert text(page, "[data-testid=fig-gmv-existing] strong") == "¥100.00"
    rate = "[data-figure='new_members.first_purchase_rate']"
    assert text(page, f"{rate} [data-col=previous]") == "50.0%"
    assert text(page, f"{rate} [data-col=current]") == "50.0%"
    for driver in api["drivers"]:
        row = f"[data-driver='{driver['segment']}.{driver['factor']}']"
        assert text(page, f"{row} [data-col=change]") == signed(driver["change_fen"])
        assert text(page, f"{row} [data-col=share]") == share(driver["share"])
    assert page.locator("[data-testid=chart-drivers]").is_visible()
    # Cohorts: April's four members, half bought in April, a quarter in May.
    assert text(page, "[data-cohort='2026-04'] [data-col=members]") == "4"
    assert text(page, "[data-cohort='2026-04'] [data-month='0']") == "50.0%"
    assert text(page, "[data-cohort='2026-04'] [data-month='1']") == "25.0%"
    assert text(page, "[data-cohort='2026-05'] [data-month='0']") == "50.0%"
    # The second purchase.
    assert text(page, "[data-testid=fig-median] strong") == "28"
    assert text(page, "[data-testid=fig-rate-90d] strong") == "50.0%"
    assert text(page, "[data-testid=fig-one-time] strong") == "42.9%"
    assert text(page, "[data-testid=fig-buyers] strong") == "7"
    assert text(page, "[data-from-day='61'] [data-col=members]") == "1"
    # Baskets in May: 17 units in 6 orders.
    assert text(page, "[data-testid=fig-units-per-order] strong") == "2.8333"
    assert text(page, "[data-testid=fig-lines-per-order] strong") == "1.1667"
    assert text(page, "[data-testid=fig-avg-order] strong") == "¥30.00"
    assert text(page, "[data-category='乳品'] [data-col=gmv]") == "¥80.00"
    assert text(page, "[data-category='乳品'] [data-col=units]") == "10"
    shot("1-chain")

    # One store: 徐家汇店 had one new member's order of ¥60 in May and nothing in April.
    page.select_option("[data-testid=store]", label="徐家汇店")
    loaded(page, "gmv", "cohorts", "repurchase", "baskets")
    assert text(page, "[data-testid=fig-gmv] strong") == "¥60.00"
    assert text(page, "[data-testid=fig-gmv-existing] strong") == "¥0.00"
    assert text(page, "[data-cohort='2026-05'] [data-col=members]") == "1"
    assert text(page, "[data-cohort='2026-05'] [data-month='0']") == "100.0%"
    assert text(page, "[data-testid=fig-orders] strong") == "1"
    assert text(page, "[data-testid=fig-units-per-order] strong") == "6"
    name, rows = downloaded(page, "[data-testid=csv-gmv]")
    assert name == "analytics-gmv.csv"
    assert rows[1] == ["all", "gmv_fen", "0", "6000", "6000", "1.0"]
    shot("2-store")

    # Back to the chain, another month, one category.
    page.select_option("[data-testid=store]", value="")
    page.fill("[data-testid=gmv-month]", "2026-04")
    page.dispatch_event("[data-testid=gmv-month]", "change")
    page.select_option("[data-testid=baskets-category]", label="乳品")
    loaded(page, "gmv", "baskets")
    assert text(page, "[data-testid=fig-gmv] strong") == "¥120.00"
    assert text(page, "[data-testid=fig-orders] strong") == "3"  # the orders with milk
    _, rows = downloaded(page, "[data-testid=csv-gmv]")
    assert rows[1] == ["all", "gmv_fen", "0", "12000", "12000", "1.0"]
    _, rows = downloaded(page, "[data-testid=csv-baskets]")
    assert rows[1] == ["orders", "", "", "", "", "3"]
    assert ["category", "乳品", "3", "10", "8000", ""] in rows
    _, rows = downloaded(page, "[data-testid=csv-repurchase]")
    assert ["median_days_to_second", "", "", "28"] in rows
    _, rows = downloaded(page, "[data-testid=csv-cohorts]")
    april = next(r for r in rows if r[0] == "2026-04")
    assert april[:4] == ["2026-04", "4", "0.5", "0.25"]
    assert business["a"].name == "人民广场店"
    assert page.js_errors == []


def test_an_api_refusal_shows_on_the_figure_not_a_blank_page(
    page, sign_in, make_staff, make_store, make_member, session
):
    plant(session, make_store, make_member)
    sign_in(make_staff("marketer"), "/console/analytics")
    loaded(page, "cohorts")
    page.fill("[data-testid=cohorts-from]", "2026-06")
    page.fill("[data-testid=cohorts-to]", "2026-01")
    page.dispatch_event("[data-testid=cohorts-to]", "change")
    page.wait_for_selector("[data-testid=cohorts][data-loaded=error]")
    assert "request.invalid" in text(page, "[data-testid=cohorts-error]")
    assert page.js_errors == []


def _signup_clock() -> None:
    # 2 November 2026, 18:00 in Shanghai: the page opens on 4 October to 2 November.
    clock.freeze(datetime(2026, 11, 2, 10, tzinfo=UTC))


def _period(page, day_from: str, day_to: str) -> None:
    page.fill("[data-testid=from]", day_from)
    page.dispatch_event("[data-testid=from]", "change")
    page.fill("[data-testid=to]", day_to)
    page.dispatch_event("[data-testid=to]", "change")
    page.wait_for_selector("[data-testid=report][data-loaded=yes]")


def _row(page, table: str, key: str) -> list[str]:
    cells = page.locator(f"[data-testid={table}] tr[data-key='{key}'] td")
    return [c.strip() for c in cells.all_inner_texts()]


def test_a_manager_reads_their_stores_leaderboard(
    page, shot, sign_in, session, make_store, make_staff, make_member, make_purchase, client,
    staff_headers,
):  # fmt: skip
    planted = plant_signups(session, make_store, make_staff, make_member, make_purchase)
    _signup_clock()
    manager, clerk_a = planted["manager_a"], planted["clerk_a"]
    sign_in(manager, "/console/signups")
    page.wait_for_selector("[data-testid=report][data-loaded=yes]")
    assert page.input_value("[data-testid=from]") == "2026-10-04"
    assert page.input_value("[data-testid=to]") == "2026-11-02"
    assert page.locator("[data-testid=store]").count() == 0  # no picker: their store only
    assert planted["a"].name in text(page, "[data-testid=own-store]")
    # The default period holds clerk A's sign-up of 31 October too.
    api = client.get(
        "/staff/v1/reports/signups?from=2026-10-04&to=2026-11-02&group_by=staff",
        headers=staff_headers(manager),
    ).get_json()
    first = api["rows"][0]
    assert _row(page, "leaderboard-table", clerk_a.username) == [
        "1", clerk_a.username, str(first["signups"]), str(first["with_phone"]),
        str(first["first_purchase_30d"]), share(first["first_purchase_rate"]),
    ]  # fmt: skip
    assert first["signups"] == 4
    _period(page, "2026-11-01", "2026-11-02")
    boards = page.locator("[data-testid=leaderboard]")
    assert boards.count() == 1 and planted["a"].name in boards.inner_text()
    assert _row(page, "leaderboard-table", clerk_a.username) == [
        "1", clerk_a.username, "3", "2", "1", "33.3%"
    ]  # fmt: skip
    assert _row(page, "leaderboard-table", "") == ["—", "未关联员工", "1", "0", "1", "100.0%"]
    assert planted["clerk_b"].username not in boards.inner_text()
    shot("1-staff")
    name, rows = downloaded(page, "[data-testid=csv]")
    assert name == "signups-staff.csv"
    assert rows[1][:2] == [clerk_a.username, ""]
    assert rows[1][4:] == ["3", "2", "1", "0.3333"]

    page.check("[data-testid=by-day]")
    page.wait_for_selector("[data-testid=day-table]")
    assert _row(page, "day-table", "2026-11-01") == ["2026-11-01", "2", "2", "1", "50.0%"]
    assert _row(page, "day-table", "2026-11-02") == ["2026-11-02", "2", "0", "1", "50.0%"]
    assert page.locator("[data-testid=chart-days]").is_visible()
    _, rows = downloaded(page, "[data-testid=csv]")
    assert [r[0] for r in rows[1:]] == ["2026-11-01", "2026-11-02"]
    page.check("[data-testid=by-store]")
    page.wait_for_selector("[data-testid=store-table]")
    assert _row(page, "store-table", "A") == ["1", planted["a"].name, "4", "2", "2", "50.0%"]
    shot("2-store")
    assert page.js_errors == []


def test_a_marketer_sees_each_stores_leaderboard_and_picks_one(
    page, sign_in, session, make_store, make_staff, make_member, make_purchase
):
    planted = plant_signups(session, make_store, make_staff, make_member, make_purchase)
    _signup_clock()
    sign_in(make_staff("marketer"), "/console/signups")
    page.wait_for_selector("[data-testid=report][data-loaded=yes]")
    _period(page, "2026-11-01", "2026-11-02")
    boards = page.locator("[data-testid=leaderboard] h2").all_inner_texts()
    assert boards == [planted["a"].name, planted["b"].name, "未关联员工"]
    clerk_b = planted["clerk_b"].username
    assert _row(page, "leaderboard-table", clerk_b) == ["1", clerk_b, "2", "1", "1", "50.0%"]
    page.select_option("[data-testid=store]", label=planted["b"].name)
    page.wait_for_selector("[data-testid=report][data-loaded=yes]")
    assert page.locator("[data-testid=leaderboard]").count() == 1
    assert page.locator("[data-testid=leaderboard] h2").inner_text() == planted["b"].name
    page.check("[data-testid=by-store]")
    page.wait_for_selector("[data-testid=store-table]")
    assert _row(page, "store-table", "B") == ["1", planted["b"].name, "2", "1", "1", "50.0%"]
    _, rows = downloaded(page, "[data-testid=csv]")
    assert [r[0] for r in rows[1:]] == ["B"]
    assert page.js_errors == []
