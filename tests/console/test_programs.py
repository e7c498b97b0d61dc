"""Marketing programs in the browser: coupon templates, lotteries with prizes, referrals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app import clock

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.engagement_factories"]


@pytest.fixture
def marketer(make_staff):
    return make_staff("marketer")


def test_marketer_designs_a_coupon_and_sees_the_contracts_errors(
    page, shot, sign_in, marketer, client, staff_headers
):
    sign_in(marketer, "/console/programs/coupons")
    page.click("[data-testid=new]")
    form = page.locator("[data-testid=template-form]")
    form.locator("[data-field=name]").fill("满50减60")
    form.locator("[data-field=kind]").select_option("threshold_off")
    form.locator("[data-field=amount_off_fen]").fill("60")
    form.locator("[data-field=threshold_fen]").fill("50")
    form.locator("[data-field=validity_mode]").select_option("relative")
    form.locator("[data-field=valid_days]").fill("30")
    form.locator("[data-field=stock_total]").fill("-1")  # refused in the browser
    page.click("[data-testid=template-form] [data-testid=save]")
    assert form.locator("[data-field=stock_total]").get_attribute("aria-invalid") == "true"

    form.locator("[data-field=stock_total]").fill("500")
    page.click("[data-testid=template-form] [data-testid=save]")  # refused by the API
    page.wait_for_selector("[data-testid=template-form] .field-error")
    assert "More off than the threshold." in form.inner_text()
    shot("1-error")

    form.locator("[data-field=amount_off_fen]").fill("10")
    page.click("[data-testid=template-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=templates] tr[data-template-id]")
    assert "满50减60" in page.inner_text("[data-testid=templates]")
    shot("2-listed")
    items = client.get(
        "/staff/v1/admin/coupon-templates", headers=staff_headers(marketer)
    ).get_json()["items"]
    assert [(t["amount_off_fen"], t["threshold_fen"], t["stock_total"]) for t in items] == [
        (1000, 5000, 500)
    ]
    assert page.js_errors == []


def test_marketer_creates_a_lottery_with_prizes_and_stock(
    page, shot, sign_in, marketer, client, staff_headers
):
    sign_in(marketer, "/console/programs/lotteries")
    page.click("[data-testid=new]")
    form = page.locator("[data-testid=lottery-form]")
    form.locator("[data-field=name]").fill("周末大转盘")
    form.locator("[data-field=cost_points]").fill("10")
    form.locator("[data-field=starts_at]").fill("2026-01-01T00:00")
    form.locator("[data-field=ends_at]").fill("2030-01-01T00:00")
    form.locator("[data-field='prizes.0.name']").fill("10 积分")
    page.click("[data-testid=lottery-form] [data-testid=save]")
    page.wait_for_selector("[data-lottery-id]")
    assert "周末大转盘" in page.inner_text("[data-testid=lotteries]")
    shot("listed")
    items = client.get("/staff/v1/admin/lotteries", headers=staff_headers(marketer)).get_json()
    prizes = items["items"][0]["prizes"]
    assert sorted(p["kind"] for p in prizes) == ["none", "points"]
    assert page.js_errors == []


def test_ended_lotteries_and_coupon_offers_read_ended_not_open(
    page, shot, sign_in, marketer, make_template, make_lottery, client, staff_headers
):
    now = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    clock.freeze(now)
    day = timedelta(days=1)
    make_template(name="进行中的券")
    make_template(name="已结束的券", claim_ends_at=now - day)
    make_template(name="未开始的券", claim_starts_at=now + day)
    make_template(name="领完的券", stock_total=0)
    make_template(name="停发的券", is_active=False)
    make_lottery([], name="进行中的抽奖")
    make_lottery([], name="已结束的抽奖", starts_at=now - 10 * day, ends_at=now - day)

    sign_in(marketer, "/console/programs/coupons")
    page.wait_for_selector("[data-testid=templates] tr[data-template-id]")
    rows = page.locator("[data-testid=templates] tr[data-template-id]").evaluate_all(
        "rows => rows.map(r => [r.querySelector('strong').textContent,"
        " r.querySelector('[data-testid=template-status]').textContent])"
    )
    assert dict(rows) == {
        "进行中的券": "发放中",
        "已结束的券": "已结束",
        "未开始的券": "未开始",
        "领完的券": "已领完",
        "停发的券": "已停发",
    }
    api = client.get("/staff/v1/admin/coupon-templates", headers=staff_headers(marketer))
    assert {t["name"]: t["status"] for t in api.get_json()["items"]}["已结束的券"] == "ended"
    shot("coupons")

    page.goto("/console/programs/lotteries")
    page.wait_for_selector("[data-lottery-id]")
    cards = page.locator("[data-lottery-id] h2").evaluate_all("hs => hs.map(h => h.textContent)")
    assert sorted(cards) == ["已结束的抽奖 已结束", "进行中的抽奖 进行中"]
    shot("lotteries")
    assert page.js_errors == []


def test_marketer_edits_the_referral_program(page, shot, sign_in, marketer, client, staff_headers):
    sign_in(marketer, "/console/programs/referral")
    page.wait_for_function(
        "document.querySelector('[data-field=qualify_within_days]').value !== ''"
    )
    page.fill("[data-field=referrer_points]", "200")
    page.fill("[data-field=min_purchase_fen]", "38.80")
    page.click("[data-testid=save]")
    page.wait_for_selector("#flash.ok")
    shot("saved")
    saved = client.get(
        "/staff/v1/admin/programs/referral", headers=staff_headers(marketer)
    ).get_json()
    assert saved["referrer_points"] == 200 and saved["min_purchase_fen"] == 3880
    assert page.js_errors == []


def test_marketer_reads_segments_with_charts_and_csv(
    page, shot, sign_in, make_staff, make_store, make_member
):
    store = make_store(name="人民广场店")
    for _ in range(3):
        make_member(store=store)
    marketer = make_staff("marketer")
    sign_in(marketer, "/console/segments")
    page.wait_for_selector("[data-testid=segments][data-loaded=yes]")
    assert page.inner_text("[data-testid=fig-members] strong") == "3"
    assert page.locator("[data-testid=chart-lifecycle]").is_visible()
    assert "人民广场店" in page.inner_text("[data-testid=store-table]")
    shot("1-chain")

    page.select_option("[data-testid=scope]", label="人民广场店")
    page.wait_for_selector("[data-testid=chart-signups]")
    shot("2-store")
    with page.expect_download() as download:
        page.click("[data-testid=csv-rfm]")
    assert download.value.suggested_filename == "segments-rfm.csv"
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "重要价值" in text
    assert page.js_errors == []
