"""The points mall's console page (积分商城): a marketer lists, creates and edits items."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.engagement_factories"]


def items_by_name(client, staff_headers, marketer) -> dict:
    answer = client.get("/staff/v1/admin/mall-items", headers=staff_headers(marketer))
    return {item["name"]: item for item in answer.get_json()["items"]}


def row_status(page, name: str) -> str:
    row = page.locator("[data-testid=items] tr[data-item-id]", has_text=name)
    return row.locator("[data-testid=item-status]").inner_text()


def test_marketer_offers_goods_and_a_coupon_then_edits_the_goods(
    page, shot, sign_in, make_staff, make_template, client, staff_headers
):
    def status_of(name: str, text: str):
        row = page.locator("[data-testid=items] tr[data-item-id]", has_text=name)
        return row.locator("[data-testid=item-status]", has_text=text)

    marketer = make_staff("marketer")
    template = make_template(name="满100减20")
    sign_in(marketer, "/console/programs/coupons")
    if not page.locator("nav a[data-page=programs_mall]").is_visible():
        page.click("[data-testid=menu] summary")  # the drawer on a phone
    page.click("nav a[data-page=programs_mall]")
    page.wait_for_selector("[data-testid=items] >> text=暂无")
    assert page.url.endswith("/console/programs/mall")

    page.click("[data-testid=new]")
    form = page.locator("[data-testid=item-form]")
    form.locator("[data-field=name]").fill("保温杯")
    form.locator("[data-field=kind]").select_option("goods")
    assert form.locator("[data-field=coupon_template_id]").is_hidden()
    form.locator("[data-field=cost_points]").fill("800")
    form.locator("[data-field=stock_total]").fill("20")
    form.locator("[data-field=limit_per_member]").fill("2")
    form.locator("input[name=tier][value=silver]").check()
    form.locator("input[name=tier][value=gold]").check()
    form.locator("[data-field=starts_at]").fill("2030-02-01T10:00")
    form.locator("[data-field=ends_at]").fill("2030-01-01T10:00")  # before it starts
    form.locator("[data-field=image_url]").fill("https://img.example.com/cup.png")
    page.click("[data-testid=item-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=item-form] .field-error")  # the API's refusal
    assert "After starts_at." in form.inner_text()
    assert items_by_name(client, staff_headers, marketer) == {}
    shot("1-error")

    form.locator("[data-field=starts_at]").fill("")
    form.locator("[data-field=ends_at]").fill("2030-01-01T10:00")
    page.click("[data-testid=item-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=items] tr[data-item-id]")
    assert form.is_hidden()
    assert "保温杯" in page.inner_text("[data-testid=items]")
    assert "已兑 0 / 20" in page.inner_text("[data-testid=items]")
    assert row_status(page, "保温杯") == "兑换中"

    page.click("[data-testid=new]")
    form.locator("[data-field=name]").fill("20元券")
    form.locator("[data-field=kind]").select_option("coupon")
    form.locator("[data-field=coupon_template_id]").select_option(str(template.id))
    form.locator("[data-field=cost_points]").fill("300")
    form.locator("[data-field=stock_total]").fill("50")
    page.click("[data-testid=item-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=items] tr[data-item-id] >> text=20元券")
    assert "优惠券: 满100减20" in page.inner_text("[data-testid=items]")
    shot("2-listed")

    saved = items_by_name(client, staff_headers, marketer)
    cup = saved["保温杯"]
    assert (cup["kind"], cup["cost_points"], cup["stock_total"], cup["limit_per_member"]) == (
        "goods",
        800,
        20,
        2,
    )
    assert cup["tiers"] == ["silver", "gold"] and cup["starts_at"] is None
    assert cup["ends_at"].startswith("2030-01-01T02:00")  # 10:00 in Beijing
    assert cup["image_url"] == "https://img.example.com/cup.png"
    coupon = saved["20元券"]
    assert (coupon["kind"], coupon["coupon_template_id"], coupon["tiers"]) == (
        "coupon",
        template.id,
        None,
    )

    # Editing: the form comes back filled; the kind cannot change; stock, cost, tiers and the
    # offer can.
    page.locator("[data-testid=items] tr[data-item-id]", has_text="保温杯").locator(
        "[data-testid=edit]"
    ).click()
    assert form.locator("[data-field=name]").input_value() == "保温杯"
    assert form.locator("[data-field=cost_points]").input_value() == "800"
    assert form.locator("input[name=tier][value=silver]").is_checked()
    assert form.locator("[data-field=kind]").is_disabled()
    form.locator("[data-field=cost_points]").fill("900")
    form.locator("[data-field=stock_total]").fill("30")
    form.locator("input[name=tier][value=silver]").uncheck()
    form.locator("[data-field=is_active]").uncheck()
    page.click("[data-testid=item-form] [data-testid=save]")
    status_of("保温杯", "已下架").wait_for()
    assert row_status(page, "20元券") == "兑换中"
    shot("3-edited")
    cup = items_by_name(client, staff_headers, marketer)["保温杯"]
    assert (cup["cost_points"], cup["stock_total"], cup["tiers"], cup["is_active"]) == (
        900,
        30,
        ["gold"],
        False,
    )
    assert cup["status"] == "stopped"

    # Stopping the coupon offer from the list.
    page.locator("[data-testid=items] tr[data-item-id]", has_text="20元券").locator(
        "[data-testid=stop]"
    ).click()
    status_of("20元券", "已下架").wait_for()
    assert items_by_name(client, staff_headers, marketer)["20元券"]["is_active"] is False
    assert page.js_errors == []


def test_the_mall_page_is_in_the_marketers_menu_and_not_the_clerks(
    page, sign_in, make_staff, make_store
):
    sign_in(make_staff("marketer"), "/console/programs/coupons")
    assert page.locator("nav a[data-page=programs_mall]").count() == 1
    assert page.text_content("nav a[data-page=programs_mall]").strip() == "积分商城"
    page.context.clear_cookies()
    sign_in(make_staff("clerk", store=make_store()), "/console/till")
    assert page.locator("nav a[data-page=programs_mall]").count() == 0
    response = page.goto("/console/programs/mall")
    assert response.status == 403
