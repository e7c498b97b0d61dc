"""A marketer builds, previews, schedules, cancels and reads campaigns in the browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from app import clock
from app.models.messaging import OutboxMessage

pytestmark = pytest.mark.browser

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, outside quiet hours


@pytest.fixture
def marketer(make_staff):
    return make_staff("marketer")


def build_campaign(page, store_name: str, name: str) -> None:
    page.click("[data-testid=new]")
    form = page.locator("[data-testid=campaign-form]")
    form.locator("[data-field=name]").fill(name)
    form.get_by_label(store_name).check()
    form.locator("[data-field=channel]").select_option("subscribe")
    editor = form.locator(".template-editor[data-channel=subscribe]")
    editor.locator("[data-tpl=template_id]").fill("TPL-weekend")
    editor.locator(".tpl-row [data-key]").fill("thing1")
    editor.locator(".tpl-row [data-value]").fill("{nickname}，周末积分翻倍")
    editor.locator("[data-add-row]").click()
    editor.locator(".tpl-row [data-key]").last.fill("number2")
    editor.locator(".tpl-row [data-value]").last.fill("{balance}")
    form.locator("[data-field=send_at]").fill("2026-06-01T11:00")
    form.locator("#holdout").fill("50")


def test_marketer_schedules_a_campaign_and_reads_its_report(
    page,
    shot,
    sign_in,
    marketer,
    make_store,
    make_staff,
    make_member,
    session,
    scan_for,
    client,
    staff_headers,
):
    clock.freeze(T0)
    store = make_store(name="人民广场店")
    make_store(name="徐家汇店")
    members = [make_member(store=store) for _ in range(20)]
    make_member(store=None)

    sign_in(marketer, "/console/campaigns")
    build_campaign(page, "人民广场店", "周末积分翻倍")
    # The live count follows the audience: only this store's 20 members.
    page.wait_for_selector("[data-testid=audience-count][data-count='20']")
    # The preview is the message as a member reads it, filled in by the server.
    page.wait_for_selector("[data-testid=message-preview] .mp-row")
    preview = page.inner_text("[data-testid=message-preview]")
    assert "小王，周末积分翻倍" in preview and "1280" in preview
    shot("1-built")

    page.click("[data-testid=save-schedule]")
    page.wait_for_selector("[data-testid=campaign-list]:visible [data-testid=status]")
    assert page.inner_text("[data-testid=status]") == "已排期"
    shot("2-scheduled")
    listed = client.get("/staff/v1/admin/campaigns", headers=staff_headers(marketer)).get_json()
    campaign = listed["items"][0]
    assert campaign["status"] == "scheduled" and campaign["audience"] == {"store_ids": [store.id]}
    assert campaign["holdout_share"] == 0.5

    # The scheduler starts it (the same service the job calls); then six members buy.
    from app.services.messaging import campaigns

    campaigns.enqueue_due(session, T0 + timedelta(hours=1, minutes=5))
    # ... and its messages go out (the effect is measured from the first one sent).
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign["id"])
        .values(state="sent", sent_at=T0 + timedelta(hours=1, minutes=6))
    )
    session.commit()
    clock.freeze(T0 + timedelta(hours=3))
    clerk = make_staff("clerk", store=store)
    for n, member in enumerate(members[:6]):
        response = client.post(
            "/staff/v1/purchases",
            json={"scan_id": scan_for(member, clerk), "order_no": f"C{n}", "amount_fen": 5000},
            headers=staff_headers(clerk),
        )
        assert response.status_code == 201, response.get_json()

    page.click("[data-testid=open-report]")
    page.wait_for_selector("[data-testid=report][data-loaded=yes]")
    assert page.inner_text("[data-testid=fig-targeted] strong") == "20"
    report = client.get(
        f"/staff/v1/admin/campaigns/{campaign['id']}/report", headers=staff_headers(marketer)
    ).get_json()
    assert page.inner_text("[data-testid=fig-held-out] strong") == str(report["held_out"])
    # Waiting is what the API calls pending (the queued total is not waiting twice over).
    assert page.inner_text("[data-testid=fig-pending] strong") == str(report["pending"])
    assert report["queued"] > 0
    assert page.locator("[data-testid=chart-share]").is_visible()
    held = report["effect"]["holdout"]["members"]
    assert (
        f"对照组（{held} 人）" in page.inner_text("#report")
        or page.evaluate("Chart.getChart(document.getElementById('chart-share')).data.labels[1]")
        == f"对照组（{held} 人）"
    )
    shot("3-report")
    assert page.js_errors == []


def test_marketer_cancels_a_campaign_and_sees_wechats_rules(
    page, shot, sign_in, marketer, make_store, make_member, client, staff_headers
):
    clock.freeze(T0)
    store = make_store(name="人民广场店")
    make_member(store=store)
    sign_in(marketer, "/console/campaigns")
    build_campaign(page, "人民广场店", "太长的模板")
    # A thing field holds at most 20 characters whatever the nickname: refused before scheduling.
    editor = page.locator(".template-editor[data-channel=subscribe]")
    editor.locator(".tpl-row [data-value]").first.fill("{nickname}" + "好" * 15)
    page.wait_for_selector("[data-testid=message-preview] .error")
    assert "message.invalid_template" in page.inner_text("[data-testid=message-preview]")
    page.click("[data-testid=save-schedule]")
    page.wait_for_selector("[data-testid=campaign-form] .form-error:visible")
    assert "message.invalid_template" in page.inner_text("[data-testid=campaign-form] .form-error")
    shot("1-refused")

    page.click("#cancel-form")
    page.wait_for_selector("[data-testid=status]")
    assert page.inner_text("[data-testid=status]") == "草稿"
    page.click("[data-testid=open-report]")
    page.wait_for_selector("[data-testid=cancel-campaign]:visible")
    page.click("[data-testid=cancel-campaign]")
    page.wait_for_selector("[data-testid=report-status]:has-text('已取消')")
    shot("2-cancelled")
    items = client.get("/staff/v1/admin/campaigns", headers=staff_headers(marketer)).get_json()
    assert [c["status"] for c in items["items"]] == ["cancelled"]
    assert page.js_errors == []
