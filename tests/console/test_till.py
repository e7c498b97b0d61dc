"""A clerk's visit at the till, in the browser, at a phone's width and a desktop's."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def member_code(client, member_headers, member) -> str:
    response = client.get("/api/v1/me/member-code", headers=member_headers(member))
    assert response.status_code == 200
    return response.get_json()["code"]


def test_clerk_scans_records_a_purchase_and_refunds(
    page, shot, sign_in, make_store, make_staff, make_member, client, member_headers, session
):
    store = make_store(name="人民广场店")
    clerk = make_staff("clerk", store=store)
    member = make_member(store=store, nickname="小王")

    sign_in(clerk)
    assert page.url.endswith("/console/till")
    assert page.locator("[data-testid=who]").inner_text().find("人民广场店") >= 0
    shot("1-signed-in")

    page.fill("input[name=member_code]", member_code(client, member_headers, member))
    page.click("[data-testid=lookup]")
    page.wait_for_selector("[data-testid=member]:visible")
    assert "小王" in page.inner_text("[data-testid=member]")
    assert page.inner_text("[data-testid=balance]").startswith("0")
    page.fill("[data-testid=order-amount]", "128.50")
    assert page.input_value("[data-testid=paid-amount]") == "128.50"
    shot("2-member")

    order_no = page.input_value("#order-form input[name=order_no]")
    page.click("[data-testid=record-purchase]")
    page.wait_for_selector("[data-testid=purchase-result]:visible")
    result = page.inner_text("[data-testid=purchase-result]")
    session.expire_all()
    balance = session.get(type(member), member.id).points_balance
    assert balance == 128, "the default programme earns 1 point per whole yuan"
    assert f"余额 {balance}" in result
    assert page.inner_text("[data-testid=balance]").startswith(str(balance))
    shot("3-purchase")

    # Recording the same sale again (a double tap) is refused by the contract, not repeated.
    page.fill("[data-testid=paid-amount]", "99")
    page.click("[data-testid=record-purchase]")
    page.wait_for_selector("#purchase-form .form-error:visible")
    assert "purchase.duplicate_order" in page.inner_text("#purchase-form .form-error")

    page.click("#refund-details summary")
    page.fill("#refund-form input[name=order_no]", order_no)
    page.fill("#refund-form input[name=amount]", "500")
    page.click("[data-testid=refund]")
    page.wait_for_selector("#refund-form .form-error:visible")
    assert "refund.exceeds_purchase" in page.inner_text("#refund-form .form-error")
    page.fill("#refund-form input[name=amount]", "28.50")
    page.click("[data-testid=refund]")
    page.wait_for_selector("[data-testid=refund-result]:visible")
    session.expire_all()
    assert session.get(type(member), member.id).points_balance < balance
    shot("4-refund")
    assert page.js_errors == []


def test_till_explains_a_bad_code_and_checks_fields_before_sending(
    page, shot, sign_in, make_staff, make_member, client, member_headers
):
    clerk = make_staff("clerk")
    sign_in(clerk)
    page.fill("input[name=member_code]", "660000000000000000")
    page.click("[data-testid=lookup]")
    page.wait_for_selector("#scan-form .form-error:visible")
    assert "member_code.unknown" in page.inner_text("#scan-form .form-error")

    member = make_member(store=None)
    page.fill("input[name=member_code]", member_code(client, member_headers, member))
    page.click("[data-testid=lookup]")
    page.wait_for_selector("[data-testid=member]:visible")
    page.fill("[data-testid=order-amount]", "12.345")  # three decimals: not money
    page.click("[data-testid=record-purchase]")
    page.wait_for_selector("#order-form .field-error")
    assert page.locator("#purchase-result").is_hidden()
    assert page.js_errors == []

    # English is one tap away and stays on this page.
    page.click("[data-testid=switch-lang]")
    page.wait_for_selector("text=Find member")
    assert page.url.endswith("/console/till")
    assert page.inner_text("[data-testid=lookup]") == "Find member"
    shot("english")


def give_coupon(client, staff_headers, marketer, member, **fields) -> dict:
    """A 满减 coupon (20 yuan off from 100) pushed to the member through the staff API."""
    template = {
        "name": "满100减20",
        "kind": "threshold_off",
        "amount_off_fen": 2000,
        "threshold_fen": 10000,
        "validity_mode": "relative",
        "valid_days": 30,
        "stock_total": 100,
        **fields,
    }
    headers = staff_headers(marketer)
    created = client.post("/staff/v1/admin/coupon-templates", json=template, headers=headers)
    assert created.status_code == 201, created.get_json()
    pushed = client.post(
        f"/staff/v1/admin/coupon-templates/{created.get_json()['id']}/pushes",
        json={"push_key": f"test-{member.id}", "member_ids": [member.id]},
        headers=headers,
    )
    assert pushed.status_code == 201 and pushed.get_json()["issued"] == 1, pushed.get_json()
    return created.get_json()


def test_clerks_whole_visit_with_a_coupon(
    page,
    shot,
    sign_in,
    make_store,
    make_staff,
    make_member,
    client,
    member_headers,
    staff_headers,
    session,
):
    """Log in, enter the member code, preview and redeem a coupon, record the purchase."""
    store = make_store(name="徐家汇店")
    clerk = make_staff("clerk", store=store)
    member = make_member(store=store, nickname="小李")
    give_coupon(client, staff_headers, make_staff("marketer"), member)

    sign_in(clerk)
    page.fill("input[name=member_code]", member_code(client, member_headers, member))
    page.click("[data-testid=lookup]")
    page.wait_for_selector("[data-testid=member]:visible")
    assert "满100减20" in page.inner_text("[data-testid=coupons]")
    page.fill("[data-testid=order-amount]", "88")
    page.click("[data-testid=use-coupon]")

    # Below the threshold: the contract's refusal, shown before anything is spent.
    page.click("[data-testid=preview]")
    page.wait_for_selector("#redeem-form .form-error:visible")
    assert "coupon.threshold_not_met" in page.inner_text("#redeem-form .form-error")
    assert page.is_disabled("[data-testid=redeem]")

    page.fill("[data-testid=order-amount]", "150")
    page.click("[data-testid=preview]")
    page.wait_for_selector("[data-testid=redeem-preview]:visible")
    assert "20.00" in page.inner_text("[data-testid=redeem-preview]")
    assert "130.00" in page.inner_text("[data-testid=redeem-preview]")
    shot("1-preview")
    mine = client.get("/api/v1/me/coupons?status=unused", headers=member_headers(member))
    assert len(mine.get_json()["items"]) == 1, "a preview spends nothing"

    page.click("[data-testid=redeem]")
    page.wait_for_selector("[data-testid=redeem-result]:visible")
    assert "20.00" in page.inner_text("[data-testid=redeem-result]")
    # The order's amount: the purchase takes the coupon redeemed on its order number off.
    assert page.input_value("[data-testid=paid-amount]") == "150.00"
    mine = client.get("/api/v1/me/coupons?status=used", headers=member_headers(member))
    assert len(mine.get_json()["items"]) == 1

    page.click("[data-testid=record-purchase]")
    page.wait_for_selector("[data-testid=purchase-result]:visible")
    session.expire_all()
    assert session.get(type(member), member.id).points_balance == 130
    shot("2-done")
    assert page.js_errors == []
