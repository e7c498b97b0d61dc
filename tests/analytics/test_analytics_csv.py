"""`format=csv` on the four analytics figures: the same numbers as the JSON answer, as a file a
spreadsheet opens (UTF-8 with BOM); the JSON answer is unchanged without it."""

from __future__ import annotations

import csv
import io

import pytest

from tests.analytics.business import plant
from tests.conftest import error_code

URL = "/staff/v1/admin/analytics"


@pytest.fixture
def marketer(make_staff, staff_headers):
    return staff_headers(make_staff("marketer"))


@pytest.fixture
def business(session, make_store, make_member):
    return plant(session, make_store, make_member)


def _csv(client, headers, path, **query) -> tuple[str, list[list[str]]]:
    answer = client.get(URL + path, query_string={**query, "format": "csv"}, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/csv"
    text = answer.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return answer.headers["Content-Disposition"], list(csv.reader(io.StringIO(text[1:])))


def test_gmv_csv_holds_the_month_the_previous_one_and_the_drivers(client, business, marketer):
    json_answer = client.get(URL + "/gmv?month=2026-05", headers=marketer).get_json()
    assert (json_answer["gmv_fen"], json_answer["previous_month"]["gmv_fen"]) == (18_000, 12_000)
    assert json_answer["new_members"]["signups"] == 4 and json_answer["gmv_change_fen"] == 6_000
    disposition, rows = _csv(client, marketer, "/gmv", month="2026-05")
    assert disposition == 'attachment; filename="analytics-gmv-2026-05.csv"'
    assert rows[0] == ["segment", "factor", "previous", "current", "change_fen", "share"]
    assert rows[1] == ["all", "gmv_fen", "12000", "18000", "6000", "1.0"]
    assert rows[2] == ["new_members", "gmv_fen", "3000", "8000", "5000", "0.8333"]
    drivers = [r for r in rows[1:] if r[1] != "gmv_fen"]
    assert drivers == [
        [d["segment"], d["factor"], str(d["previous"]), str(d["current"]), str(d["change_fen"]),
         str(d["share"])]
        for d in json_answer["drivers"]
    ]  # fmt: skip
    assert rows[7] == ["existing_members", "gmv_fen", "9000", "10000", "1000", "0.1667"]
    # With a store, that store's figures.
    _, at_b = _csv(client, marketer, "/gmv", month="2026-05", store_id=business["b"].id)
    assert at_b[1] == ["all", "gmv_fen", "0", "6000", "6000", "1.0"]


def test_cohorts_csv_is_the_heat_map(client, business, marketer):
    disposition, rows = _csv(client, marketer, "/cohorts", **{"from": "2026-03", "to": "2026-06"})
    assert disposition == 'attachment; filename="analytics-cohorts-2026-03-2026-06.csv"'
    assert rows == [
        ["cohort", "members", "month_0", "month_1", "month_2", "month_3"],
        ["2026-03", "0", "", "", "", ""],
        ["2026-04", "4", "0.5", "0.25", "0.0"],
        ["2026-05", "4", "0.5", "0.0"],
        ["2026-06", "0", ""],
    ]


def test_repurchase_csv_names_each_figure_and_the_distribution(client, business, marketer):
    json_answer = client.get(URL + "/repurchase", headers=marketer).get_json()
    assert json_answer["median_days_to_second"] == 28
    _, rows = _csv(client, marketer, "/repurchase")
    assert rows[:7] == [
        ["figure", "from_day", "to_day", "value"],
        ["buyers", "", "", "7"],
        ["repeat_buyers", "", "", "4"],
        ["median_days_to_second", "", "", "28"],
        ["second_purchase_rate_90d", "", "", "0.5"],
        ["first_purchases_90_days_ago", "", "", "2"],
        ["one_time_buyer_share", "", "", "0.4286"],
    ]
    assert rows[7:] == [
        ["days_to_second_purchase", "1", "7", "1"],
        ["days_to_second_purchase", "8", "14", "0"],
        ["days_to_second_purchase", "15", "30", "1"],
        ["days_to_second_purchase", "31", "60", "1"],
        ["days_to_second_purchase", "61", "90", "1"],
        ["days_to_second_purchase", "91", "180", "0"],
        ["days_to_second_purchase", "181", "365", "0"],
        ["days_to_second_purchase", "366", "", "0"],
    ]


def test_baskets_csv_has_the_basket_figures_and_each_category(client, business, marketer):
    query = {"from": "2026-05-01", "to": "2026-05-31"}
    disposition, rows = _csv(client, marketer, "/baskets", **query)
    assert disposition == 'attachment; filename="analytics-baskets-2026-05-01-2026-05-31.csv"'
    assert rows == [
        ["figure", "category", "orders", "units", "gmv_fen", "value"],
        ["orders", "", "", "", "", "6"],
        ["orders_without_lines", "", "", "", "", "0"],
        ["units_per_order", "", "", "", "", str(round(17 / 6, 4))],
        ["lines_per_order", "", "", "", "", str(round(7 / 6, 4))],
        ["avg_order_fen", "", "", "", "", "3000"],
        ["category", "乳品", "3", "10", "8000", ""],
        ["category", "零食", "1", "1", "5000", ""],
        ["category", "面包", "2", "4", "4000", ""],
        ["category", "饮料", "1", "2", "1000", ""],
    ]
    _, dairy = _csv(client, marketer, "/baskets", category="乳品", **query)
    assert dairy[1] == ["orders", "", "", "", "", "3"]


def test_json_answers_are_unchanged_and_a_bad_format_is_422(client, business, marketer):
    plain = client.get(URL + "/repurchase", headers=marketer)
    explicit = client.get(URL + "/repurchase?format=json", headers=marketer)
    assert plain.mimetype == explicit.mimetype == "application/json"
    assert plain.get_json() == explicit.get_json()
    bad = client.get(URL + "/repurchase?format=xlsx", headers=marketer)
    assert bad.status_code == 422 and error_code(bad) == "request.invalid"


def test_csv_exports_keep_the_roles_and_the_store_check(
    client, business, make_staff, staff_headers, marketer
):
    manager = staff_headers(make_staff("manager", store=business["a"]))
    refused = client.get(URL + "/gmv?month=2026-05&format=csv", headers=manager)
    assert refused.status_code == 403
    unknown = client.get(URL + "/gmv?month=2026-05&format=csv&store_id=999", headers=marketer)
    assert unknown.status_code == 404 and error_code(unknown) == "not_found"
