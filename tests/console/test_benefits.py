"""The benefits pages of issue 19 in the browser: the birthday gift, the tiers' perks on the
points page, paid membership plans and a refund by order number."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.engagement_factories"]


def _until(check, seconds: float = 10):
    """Poll from Python: the pages' CSP forbids the eval a string wait_for_function needs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("not within the time")


def test_marketer_sets_the_birthday_gift_sees_the_apis_refusal_and_reloads_it(
    page, shot, sign_in, make_staff, make_template, client, staff_headers
):
    marketer = make_staff("marketer")
    coupon = make_template(name="生日蛋糕券", limit_per_member=10)
    sign_in(marketer, "/console/programs/coupons")
    if not page.locator("nav a[data-page=programs_birthday]").is_visible():
        page.click("[data-testid=menu] summary")  # the drawer on a phone
    page.click("nav a[data-page=programs_birthday]")
    form = page.locator("[data-testid=birthday-form]")
    _until(lambda: page.input_value("[data-field=points]") != "")
    assert page.url.endswith("/console/programs/birthday")

    # Enabled with neither points nor a coupon: the API refuses, its message beside the field.
    form.locator("[data-field=enabled]").check()
    form.locator("[data-field=points]").fill("0")
    page.click("[data-testid=birthday-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=birthday-form] .field-error")
    assert "Give points or a coupon_template_id." in form.inner_text()
    assert "request.invalid" in form.locator(".form-error").inner_text()
    shot("1-error")
    api = client.get("/staff/v1/admin/programs/birthday", headers=staff_headers(marketer))
    assert api.get_json()["enabled"] is False

    form.locator("[data-field=when]").select_option("week")
    form.locator("[data-field=points]").fill("188")
    form.locator("[data-field=coupon_template_id]").select_option(str(coupon.id))
    form.locator("[data-field=notify]").uncheck()
    page.click("[data-testid=birthday-form] [data-testid=save]")
    page.wait_for_selector("#flash.ok")
    saved = client.get("/staff/v1/admin/programs/birthday", headers=staff_headers(marketer))
    assert saved.get_json() == {
        "enabled": True,
        "when": "week",
        "points": 188,
        "coupon_template_id": coupon.id,
        "notify": False,
    }

    page.reload()
    _until(lambda: page.input_value("[data-field=points]") == "188")
    assert form.locator("[data-field=enabled]").is_checked()
    assert form.locator("[data-field=when]").input_value() == "week"
    assert form.locator("[data-field=coupon_template_id]").input_value() == str(coupon.id)
    assert not form.locator("[data-field=notify]").is_checked()
    shot("2-reloaded")
    assert page.js_errors == []


def test_admin_gives_tiers_perks_and_saving_keeps_the_redeem_rule(
    page, shot, sign_in, make_staff, make_template, client, staff_headers
):
    admin = make_staff("admin")
    headers = staff_headers(admin)
    gift = make_template(name="升级礼券")
    monthly = make_template(name="金卡月券", limit_per_member=12)
    current = client.get("/staff/v1/admin/programs/points", headers=headers).get_json()
    rule = {"points_per_yuan_off": 100, "max_share_percent": 50, "min_points": 200}
    assert (
        client.put(
            "/staff/v1/admin/programs/points", json={**current, "redeem": rule}, headers=headers
        ).status_code
        == 200
    )

    sign_in(admin, "/console/programs/points")
    page.wait_for_selector("#tiers tbody tr")
    assert page.input_value("[data-field='redeem.points_per_yuan_off']") == "100"
    gold = page.locator("#tiers tbody tr").filter(has=page.locator("[data-name=code][value=gold]"))
    codes = page.locator("#tiers [data-name=code]").evaluate_all("xs => xs.map(x => x.value)")
    row = page.locator("#tiers tbody tr").nth(codes.index("gold"))
    row.locator("[data-name=grace_days]").fill("400")  # over 365: refused in the browser
    page.click("[data-testid=save]")
    page.wait_for_selector("#points-form .field-error")
    assert row.locator("[data-name=grace_days]").get_attribute("aria-invalid") == "true"

    row.locator("[data-name=grace_days]").fill("30")
    row.locator("[data-name='upgrade_gift.points']").fill("500")
    row.locator("[data-name='upgrade_gift.coupon_template_id']").select_option(str(gift.id))
    row.locator("[data-name=monthly_coupons]").select_option([str(monthly.id)])
    page.fill("[data-field=points_per_yuan]", "2")
    page.click("[data-testid=save]")
    page.wait_for_selector("#flash.ok")
    shot("1-saved")

    saved = client.get("/staff/v1/admin/programs/points", headers=headers).get_json()
    assert saved["points_per_yuan"] == 2
    assert saved["redeem"] == rule  # the rule the page read went back unchanged
    tiers = {t["code"]: t for t in saved["tiers"]}
    assert tiers["gold"]["grace_days"] == 30
    assert tiers["gold"]["upgrade_gift"] == {"points": 500, "coupon_template_id": gift.id}
    assert tiers["gold"]["monthly_coupons"] == [monthly.id]
    assert tiers["silver"]["upgrade_gift"] is None and tiers["silver"]["grace_days"] == 0
    assert saved["expiry"] == current["expiry"]

    page.reload()
    page.wait_for_selector("#tiers tbody tr")
    row = page.locator("#tiers tbody tr").nth(codes.index("gold"))
    assert row.locator("[data-name=grace_days]").input_value() == "30"
    assert row.locator("[data-name='upgrade_gift.points']").input_value() == "500"
    assert row.locator("[data-name='upgrade_gift.coupon_template_id']").input_value() == str(
        gift.id
    )
    picked = row.locator("[data-name=monthly_coupons]").evaluate(
        "s => [...s.selectedOptions].map(o => o.value)"
    )
    assert picked == [str(monthly.id)]
    assert gold.count() == 0 or gold.count() == 1

    # Clearing the rule on the page saves the till taking no points.
    page.fill("[data-field='redeem.points_per_yuan_off']", "")
    page.click("[data-testid=save]")
    page.wait_for_selector("#flash.ok")
    saved = client.get("/staff/v1/admin/programs/points", headers=headers).get_json()
    assert saved["redeem"] is None
    assert {t["code"]: t for t in saved["tiers"]}["gold"]["grace_days"] == 30
    assert page.js_errors == []


def _paid_order(live_server, make_member, member_headers, plan_id: int) -> str:
    headers = member_headers(make_member())
    order = requests.post(
        f"{live_server}/api/v1/membership/orders",
        json={"plan_id": plan_id},
        headers=headers,
        timeout=10,
    ).json()
    paid = requests.post(f"{live_server}/_sandbox/wechat/pay/{order['order_no']}/pay", timeout=10)
    assert paid.json()["notify_status"] == 204
    return order["order_no"]


def test_admin_sells_a_plan_edits_it_and_refunds_an_order_by_its_number(
    page,
    shot,
    sign_in,
    make_staff,
    make_template,
    make_member,
    member_headers,
    live_server,
    client,
    staff_headers,
    app,
    monkeypatch,
):
    monkeypatch.setitem(app.config, "SANDBOX_PAY_REFUND_SECONDS", 0.3)
    admin = make_staff("admin")
    headers = staff_headers(admin)
    coupon = make_template(name="会员月券", limit_per_member=12)
    sign_in(admin, "/console/programs/membership")
    page.wait_for_selector("[data-testid=plans] >> text=暂无")

    page.click("[data-testid=new]")
    form = page.locator("[data-testid=plan-form]")
    form.locator("[data-field=name]").fill("年卡")
    form.locator("[data-field=price_fen]").fill("128")
    form.locator("[data-field=months]").fill("12")
    form.locator("[data-field=multiplier]").fill("0.5")  # below 1: refused in the browser
    page.click("[data-testid=plan-form] [data-testid=save]")
    assert form.locator("[data-field=multiplier]").get_attribute("aria-invalid") == "true"
    form.locator("[data-field=multiplier]").fill("1.5")
    form.locator(f"input[name=coupon][value='{coupon.id}']").check()
    page.click("[data-testid=plan-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=plans] tr[data-plan-id]")
    listed = page.inner_text("[data-testid=plans]")
    assert "年卡" in listed and "128.00" in listed and "会员月券" in listed
    plans = client.get("/staff/v1/admin/membership-plans", headers=headers).get_json()["items"]
    assert [
        (p["price_fen"], p["months"], p["multiplier"], p["monthly_coupons"]) for p in plans
    ] == [(12800, 12, 1.5, [coupon.id])]
    plan_id = plans[0]["id"]

    page.locator("[data-testid=plans] tr[data-plan-id] [data-testid=edit]").click()
    assert form.locator("[data-field=price_fen]").input_value() == "128.00"
    assert form.locator(f"input[name=coupon][value='{coupon.id}']").is_checked()
    form.locator("[data-field=price_fen]").fill("120")
    page.click("[data-testid=plan-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=plans] >> text=120.00")
    page.reload()
    page.wait_for_selector("[data-testid=plans] >> text=120.00")
    shot("1-plans")

    # Refunds by typed order number: the API's refusals first.
    refund = page.locator("[data-testid=refund-form]")
    refund.locator("[data-field=order_no]").fill("M404")
    refund.locator("[data-field=reason]").fill("搬家")
    page.click("[data-testid=refund]")
    page.click("[data-testid=confirm-refund]")
    refund.locator(".form-error").wait_for()
    assert "No such membership order." in refund.locator(".form-error").inner_text()

    unpaid = requests.post(
        f"{live_server}/api/v1/membership/orders",
        json={"plan_id": plan_id},
        headers=member_headers(make_member()),
        timeout=10,
    ).json()["order_no"]
    refund.locator("[data-field=order_no]").fill(unpaid)
    page.click("[data-testid=refund]")
    page.click("[data-testid=confirm-refund]")
    _until(lambda: "membership.not_refundable" in refund.locator(".form-error").inner_text())
    shot("2-refused")

    order_no = _paid_order(live_server, make_member, member_headers, plan_id)
    refund.locator("[data-field=order_no]").fill(order_no)
    page.click("[data-testid=refund]")
    assert order_no in page.inner_text("[data-testid=refund-confirm]")
    page.click("[data-testid=confirm-refund]")
    result = page.locator("[data-testid=refund-result]")
    result.wait_for()
    # Bought today: the month in progress is used, 11 of 12 come back (12000 x 11 / 12).
    assert "110.00" in result.inner_text() and "11" in result.inner_text()
    assert "退款处理中" in result.inner_text()  # WeChat Pay answers PROCESSING
    shot("3-refunding")

    # Its REFUND.SUCCESS arrives; asking again shows it refunded, and refunds nothing more.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        made = requests.get(f"{live_server}/_sandbox/wechat/pay/refunds", timeout=5).json()
        if made["items"] and made["items"][0]["notify_status"] == 204:
            break
        time.sleep(0.1)
    page.click("[data-testid=refund]")
    page.click("[data-testid=confirm-refund]")
    page.locator("[data-testid=refund-result]", has_text="已退款").wait_for()
    made = requests.get(f"{live_server}/_sandbox/wechat/pay/refunds", timeout=5).json()["items"]
    assert [r["amount"]["refund"] for r in made] == [11000]

    page.locator("[data-testid=plans] tr[data-plan-id] [data-testid=stop]").click()
    page.locator("[data-testid=plan-status]", has_text="已下架").wait_for()
    assert page.js_errors == []
