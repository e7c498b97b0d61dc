"""The promotions console page (积分活动, issue 19): a marketer creates, edits and stops one."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def promotions_by_name(client, staff_headers, marketer) -> dict:
    answer = client.get("/staff/v1/admin/promotions", headers=staff_headers(marketer))
    return {p["name"]: p for p in answer.get_json()["items"]}


def test_marketer_creates_a_wednesday_promotion_then_edits_and_stops_it(
    page, shot, sign_in, make_staff, make_store, client, staff_headers
):
    marketer = make_staff("marketer")
    store = make_store(name="旗舰店")
    sign_in(marketer, "/console/programs/coupons")
    if not page.locator("nav a[data-page=programs_promotions]").is_visible():
        page.click("[data-testid=menu] summary")  # the drawer on a phone
    page.click("nav a[data-page=programs_promotions]")
    page.wait_for_selector("[data-testid=promotions] >> text=暂无")
    assert page.url.endswith("/console/programs/promotions")

    page.click("[data-testid=new]")
    form = page.locator("[data-testid=promotion-form]")
    form.locator("[data-field=name]").fill("周三会员日")
    form.locator("[data-field=multiplier]").fill("2")
    form.locator("[data-testid=days-mode]").select_option("weekdays")
    form.locator("input[name=weekday][value='3']").check()
    form.locator("[data-field=starts_at]").fill("2030-02-01T00:00")
    form.locator("[data-field=ends_at]").fill("2030-01-01T00:00")  # before it starts
    page.click("[data-testid=promotion-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=promotion-form] .field-error")  # the API's refusal
    assert "After starts_at." in form.inner_text()
    assert promotions_by_name(client, staff_headers, marketer) == {}
    shot("1-error")

    form.locator("[data-field=starts_at]").fill("2029-01-01T00:00")
    form.locator(f"input[name=store][value='{store.id}']").check()
    form.locator("input[name=tier][value=gold]").check()
    form.locator("[data-field=categories]").fill("bakery, drinks")
    page.click("[data-testid=promotion-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=promotions] tr[data-promotion-id]")
    assert form.is_hidden()
    listed = page.inner_text("[data-testid=promotions]")
    assert "周三会员日" in listed and "2 倍" in listed and "周三" in listed
    shot("2-listed")
    saved = promotions_by_name(client, staff_headers, marketer)["周三会员日"]
    assert (saved["multiplier"], saved["weekdays"], saved["month_days"]) == (2, [3], None)
    assert (saved["store_ids"], saved["tiers"]) == ([store.id], ["gold"])
    assert saved["categories"] == ["bakery", "drinks"]
    assert saved["starts_at"].startswith("2028-12-31T16:00")  # midnight in Beijing

    page.locator("[data-testid=promotions] tr[data-promotion-id]").locator(
        "[data-testid=edit]"
    ).click()
    assert form.locator("[data-field=name]").input_value() == "周三会员日"
    assert form.locator("input[name=weekday][value='3']").is_checked()
    form.locator("[data-field=multiplier]").fill("1.5")
    form.locator("[data-testid=days-mode]").select_option("month_days")
    form.locator("#month-days").fill("8, 18")
    form.locator("[data-field=categories]").fill("")
    page.click("[data-testid=promotion-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=promotions] >> text=8, 18")
    saved = promotions_by_name(client, staff_headers, marketer)["周三会员日"]
    assert (saved["multiplier"], saved["weekdays"], saved["month_days"]) == (1.5, None, [8, 18])
    assert saved["categories"] is None

    page.locator("[data-testid=promotions] tr[data-promotion-id]").locator(
        "[data-testid=stop]"
    ).click()
    page.locator("[data-testid=promotion-status]", has_text="已停用").wait_for()
    assert promotions_by_name(client, staff_headers, marketer)["周三会员日"]["is_active"] is False
    shot("3-stopped")
    assert page.js_errors == []
