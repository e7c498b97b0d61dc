"""Stores, POS keys and staff accounts (admin), in the browser."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_admin_creates_a_store_and_a_manager_for_it(
    page, shot, sign_in, make_staff, client, staff_headers
):
    admin = make_staff("admin")
    sign_in(admin, "/console/stores")
    page.wait_for_selector("[data-testid=stores] >> text=暂无")

    page.click("[data-testid=new]")
    form = page.locator("[data-testid=store-form]")
    form.locator("[data-field=code]").fill("SH 01")  # a space: refused by the schema's pattern
    form.locator("[data-field=name]").fill("静安寺店")
    page.click("[data-testid=store-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=store-form] .field-error")
    form.locator("[data-field=code]").fill("SH01")
    form.locator("[data-field=address]").fill("南京西路 1 号")
    page.click("[data-testid=store-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=stores] tr[data-store-id] >> text=静安寺店")
    assert form.is_hidden()
    stores = client.get("/staff/v1/admin/stores", headers=staff_headers(admin)).get_json()["items"]
    assert [(s["code"], s["name"], s["address"]) for s in stores] == [
        ("SH01", "静安寺店", "南京西路 1 号")
    ]
    store_id = stores[0]["id"]
    shot("1-store")

    # A second store with the same code: the API's refusal, in its words.
    page.click("[data-testid=new]")
    form.locator("[data-field=code]").fill("SH01")
    form.locator("[data-field=name]").fill("重复")
    page.click("[data-testid=store-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=store-form] .form-error:visible")
    assert "store.code_taken" in form.inner_text()
    page.click("#cancel-store")

    # The staff page offers the new store; a manager needs one.
    page.goto("/console/staff")
    page.wait_for_selector("[data-testid=staff] tr[data-staff-id]")
    page.click("[data-testid=new]")
    staff_form = page.locator("[data-testid=staff-form]")
    staff_form.locator("[data-field=username]").fill("jingan.manager")
    staff_form.locator("[data-field=display_name]").fill("张店长")
    staff_form.locator("[data-field=role]").select_option("manager")
    staff_form.locator("[data-field=password]").fill("secret-pass-1")
    page.click("[data-testid=staff-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=staff-form] .field-error")  # no store chosen yet
    staff_form.locator("[data-field=store_id]").select_option(str(store_id))
    page.click("[data-testid=staff-form] [data-testid=save]")
    row = page.locator("[data-testid=staff] tr[data-staff-id]", has_text="jingan.manager")
    row.wait_for()
    assert "静安寺店" in row.inner_text() and "店长" in row.inner_text()
    shot("2-staff")
    signed_in = client.post(
        "/staff/v1/auth/login", json={"username": "jingan.manager", "password": "secret-pass-1"}
    )
    assert signed_in.status_code == 200
    assert signed_in.get_json()["staff"]["store_id"] == store_id

    # Promoted to marketer: no store any more; then deactivated.
    row.locator("[data-testid=edit]").click()
    assert staff_form.locator("[data-field=username]").is_disabled()
    staff_form.locator("[data-field=role]").select_option("marketer")
    assert staff_form.locator("[data-field=store_id]").is_disabled()
    page.click("[data-testid=staff-form] [data-testid=save]")
    row.locator("[data-testid=staff-role]", has_text="市场").wait_for()
    row.locator("[data-testid=deactivate]").click()
    row.locator("[data-testid=staff-status]", has_text="已停用").wait_for()
    refused = client.post(
        "/staff/v1/auth/login", json={"username": "jingan.manager", "password": "secret-pass-1"}
    )
    assert refused.status_code == 401
    assert page.js_errors == []


def test_admin_creates_a_pos_key_sees_its_secret_once_and_revokes_it(
    page, shot, sign_in, make_staff, make_store, client, staff_headers
):
    store = make_store(name="五角场店")
    admin = make_staff("admin")
    sign_in(admin, "/console/stores")
    row = page.locator("[data-testid=stores] tr[data-store-id]", has_text="五角场店")
    row.locator("[data-testid=open-keys]").click()
    keys = page.locator("[data-testid=pos-keys]")
    keys.wait_for()
    page.wait_for_selector("[data-testid=key-list] >> text=暂无")

    page.click("[data-testid=new-key]")
    page.wait_for_selector("[data-testid=new-secret]:visible")
    secret = page.inner_text("[data-testid=secret]")
    key_id = page.inner_text("[data-testid=secret-key-id]")
    assert len(secret) >= 32
    assert "只显示这一次" in page.inner_text("[data-testid=new-secret]")
    page.wait_for_selector(f"[data-testid=key-list] tr[data-key-id='{key_id}']")
    # The list never carries the secret (nor does the API's listing).
    assert secret not in page.inner_text("[data-testid=key-list]")
    listed = client.get(
        f"/staff/v1/admin/stores/{store.id}/pos-keys", headers=staff_headers(admin)
    ).get_json()
    assert [k["key_id"] for k in listed["items"]] == [key_id]
    assert "secret" not in listed["items"][0]

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("[data-testid=copy-secret]")
    page.wait_for_selector("#flash >> text=已复制")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    shot("1-secret")
    page.click("[data-testid=hide-secret]")
    assert page.locator("[data-testid=new-secret]").is_hidden()
    assert secret not in page.content()  # gone from the page: shown once

    key_row = page.locator(f"[data-testid=key-list] tr[data-key-id='{key_id}']")
    key_row.locator("[data-testid=revoke]").click()
    assert key_id in page.inner_text("[data-testid=revoke-confirm]")
    page.click("#revoke-cancel")
    assert key_row.locator("[data-testid=key-status]").inner_text() == "使用中"
    key_row.locator("[data-testid=revoke]").click()
    page.click("[data-testid=confirm-revoke]")
    page.wait_for_function(
        "(id) => { const row = document.querySelector(`tr[data-key-id='${id}']`);"
        " return row && !row.querySelector('[data-testid=revoke]'); }",
        arg=key_id,
    )
    shot("2-revoked")
    listed = client.get(
        f"/staff/v1/admin/stores/{store.id}/pos-keys", headers=staff_headers(admin)
    ).get_json()
    assert listed["items"][0]["revoked_at"] is not None
    assert page.js_errors == []
