"""Members (会员查询), in the browser: a manager finds a member, reads their page, adjusts their
points and closes the account of a member who asks in store; then finds the adjustment in the
audit trail."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.engagement_factories"]


def open_menu_entry(page, name: str) -> None:
    if not page.locator(f"nav a[data-page={name}]").is_visible():
        page.click("[data-testid=menu] summary")  # the drawer on a phone
    page.click(f"nav a[data-page={name}]")


def test_manager_adjusts_a_members_points_and_finds_it_in_the_audit_trail(
    page,
    shot,
    sign_in,
    make_store,
    make_staff,
    make_member,
    make_template,
    grant,
    client,
    staff_headers,
    scan_for,
):
    store = make_store(name="人民广场店")
    manager = make_staff("manager", store=store)
    clerk = make_staff("clerk", store=store)
    member = make_member(store=store, nickname="小王", phone="13800138000")
    grant(member, 300)
    template = make_template(name="满100减20")
    marketer = make_staff("marketer")
    pushed = client.post(
        f"/staff/v1/admin/coupon-templates/{template.id}/pushes",
        json={"push_key": "welcome", "member_ids": [member.id]},
        headers=staff_headers(marketer),
    )
    assert pushed.get_json()["issued"] == 1
    bought = client.post(
        "/staff/v1/purchases",
        json={"scan_id": scan_for(member, clerk), "order_no": "A1001", "amount_fen": 12850},
        headers=staff_headers(clerk),
    )
    assert bought.status_code == 201

    sign_in(manager, "/console/till")
    open_menu_entry(page, "members")
    page.wait_for_url("**/console/members")
    page.fill("[data-field=phone]", "13800138000")
    page.click("[data-testid=search]")
    page.wait_for_selector("[data-testid=member]:visible")
    assert page.inner_text("[data-testid=balance]") == "428"  # 300 + 128 earned
    assert "满100减20" in page.inner_text("[data-testid=coupons]")
    page.wait_for_selector("[data-testid=purchases] >> text=A1001")
    assert "128.50" in page.inner_text("[data-testid=purchases]")
    shot("1-member")

    # Taking more than the balance is refused, with the contract's code; nothing changes.
    form = page.locator("[data-testid=adjust-form]")
    form.locator("[data-field=delta]").fill("-1000")
    form.locator("[data-field=reason]").fill("误发")
    page.click("[data-testid=adjust]")
    page.wait_for_selector("[data-testid=adjust-form] .form-error:visible")
    assert "points.insufficient" in form.inner_text()
    assert page.inner_text("[data-testid=balance]") == "428"

    form.locator("[data-field=delta]").fill("50")
    form.locator("[data-field=reason]").fill("补录线下积分")
    page.click("[data-testid=adjust]")
    page.wait_for_selector("[data-testid=balance]:text-is('478')")
    assert "余额 478" in page.inner_text("#flash")
    shot("2-adjusted")
    found = client.get(
        "/staff/v1/members",
        query_string={"member_no": member.member_no},
        headers=staff_headers(manager),
    ).get_json()
    assert found["items"][0]["points_balance"] == 478

    # The audit trail: filtered by action and today, the adjustment is there with its reason.
    open_menu_entry(page, "audit")
    page.wait_for_selector("[data-testid=entries][data-loaded=yes]")
    assert page.locator("[data-testid=filter-store]").count() == 0  # a manager: own store only
    page.fill("[data-testid=filter-action]", "points.adjust")
    today = page.evaluate("new Date().toLocaleDateString('sv-SE')")  # YYYY-MM-DD, Beijing time
    page.fill("[data-testid=filter-from]", today)
    page.fill("[data-testid=filter-to]", today)
    page.click("[data-testid=apply]")
    page.wait_for_selector("[data-testid=entries][data-loaded=yes]")
    rows = page.locator("[data-testid=entries] tr[data-entry-id]")
    assert rows.count() == 1
    assert rows.locator("[data-testid=entry-staff]").inner_text() == manager.username
    assert "补录线下积分" in rows.locator("[data-testid=entry-details]").inner_text()
    assert "人民广场店" in rows.inner_text()
    shot("3-audit")
    assert page.js_errors == []


def test_manager_closes_the_account_of_a_member_who_asks(
    page, shot, sign_in, make_store, make_staff, make_member, client, staff_headers
):
    store = make_store(name="徐家汇店")
    manager = make_staff("manager", store=store)
    member = make_member(store=store, nickname="小李", phone="13900139000")
    elsewhere = make_member(store=make_store(), phone="13900139001")

    sign_in(manager, "/console/members")
    # Another store's member is not this manager's to see.
    page.fill("[data-field=phone]", elsewhere.phone)
    page.click("[data-testid=search]")
    page.wait_for_selector("[data-testid=no-results]")

    page.fill("[data-field=phone]", "13900139000")
    page.click("[data-testid=search]")
    page.wait_for_selector("[data-testid=member]:visible")
    page.click("[data-testid=close-account]")
    confirm = page.locator("[data-testid=close-confirm]")
    assert member.member_no in confirm.inner_text()
    page.click("#close-cancel")  # second thoughts: nothing happens
    assert confirm.is_hidden()
    page.click("[data-testid=close-account]")
    shot("1-confirm")
    page.click("[data-testid=confirm-close]")
    page.wait_for_selector("#flash.ok >> text=已注销")
    assert page.locator("[data-testid=member]").is_hidden()
    found = client.get(
        "/staff/v1/members", query_string={"phone": "13900139000"}, headers=staff_headers(manager)
    ).get_json()
    assert found["items"] == []
    shot("2-closed")
    assert page.js_errors == []
