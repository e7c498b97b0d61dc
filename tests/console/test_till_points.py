"""The till in the browser: points off an order, pickups handed over, and what a refund shows."""

from __future__ import annotations

import pytest

from app import clock
from tests.console.test_till import give_coupon, member_code

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.engagement_factories", "tests.mall_factories"]

RULE = {"points_per_yuan_off": 100, "max_share_percent": 50, "min_points": 0}


@pytest.fixture
def redeeming(client, make_staff, staff_headers):
    """Set the points program's redeem rule through the admin endpoint."""
    admin = staff_headers(make_staff("admin"))

    def put(rule):
        current = client.get("/staff/v1/admin/programs/points", headers=admin).get_json()
        saved = client.put(
            "/staff/v1/admin/programs/points", json={**current, "redeem": rule}, headers=admin
        )
        assert saved.status_code == 200, saved.get_json()

    return put


def balance_of(session, member) -> int:
    session.expire_all()
    return session.get(type(member), member.id).points_balance


def scan(page, client, member_headers, member) -> None:
    page.fill("input[name=member_code]", member_code(client, member_headers, member))
    page.click("[data-testid=lookup]")
    page.wait_for_selector("[data-testid=member]:visible")


def assert_nothing_covers(page) -> None:
    """What is at each till form's top edge, scrolled to the top of the screen, is the form."""
    for form in ("#order-form", "#points-form", "#purchase-form", "#refund-form"):
        covered = page.evaluate(
            f"""(() => {{
                const form = document.querySelector('{form}');
                form.scrollIntoView({{block: 'start'}});
                const box = form.getBoundingClientRect();
                const hit = document.elementFromPoint(box.left + box.width / 2, box.top + 4);
                return form.contains(hit) ? null : (hit && (hit.id || hit.className));
            }})()"""
        )
        assert covered is None, f"{covered} covers {form}"


def test_clerk_takes_points_off_an_order_after_a_preview(
    page, shot, sign_in, make_store, make_staff, make_member, grant, redeeming, client,
    member_headers, session,
):  # fmt: skip
    redeeming(RULE)
    store = make_store(name="静安店")
    clerk = make_staff("clerk", store=store)
    member = make_member(store=store, nickname="小张")
    grant(member, 500)

    sign_in(clerk)
    scan(page, client, member_headers, member)
    assert page.inner_text("[data-testid=balance]").startswith("500")
    rule = page.inner_text("[data-testid=redeem-rule]")
    assert "100 积分抵 1 元" in rule and "50%" in rule
    page.fill("[data-testid=order-amount]", "100")

    # Too many points: the contract's refusal, with the most this order takes.
    page.fill("[data-testid=points-to-redeem]", "800")
    page.click("[data-testid=points-preview]")
    page.wait_for_selector("#points-form .form-error:visible")
    assert "points." in page.inner_text("#points-form .form-error")

    page.fill("[data-testid=points-to-redeem]", "300")
    page.click("[data-testid=points-preview]")
    page.wait_for_selector("[data-testid=points-preview-result]:visible")
    preview = page.inner_text("[data-testid=points-preview-result]")
    assert "300 积分抵 3.00 元" in preview and "应付 97.00 元" in preview
    assert "最多可用 500 积分" in preview
    assert balance_of(session, member) == 500, "a preview spends nothing"
    shot("1-preview")

    page.click("[data-testid=record-purchase]")
    page.wait_for_selector("[data-testid=purchase-result]:visible")
    # 500 - 300 redeemed + 97 earned on what was paid (1 point per yuan).
    assert balance_of(session, member) == 297
    assert page.inner_text("[data-testid=balance]").startswith("297")
    result = page.inner_text("[data-testid=purchase-result]")
    assert "使用 300 积分抵 3.00 元" in result and "余额 297" in result
    shot("2-recorded")
    assert page.js_errors == []


def test_a_till_without_a_redeem_rule_says_so(
    page, sign_in, make_store, make_staff, make_member, client, member_headers
):
    store = make_store()
    sign_in(make_staff("clerk", store=store))
    scan(page, client, member_headers, make_member(store=store))
    assert page.inner_text("[data-testid=redeem-rule]") == "积分暂不能抵现"
    assert page.locator("[data-testid=points-to-redeem]").is_hidden()
    page.fill("[data-testid=order-amount]", "20")
    page.click("[data-testid=record-purchase]")
    page.wait_for_selector("[data-testid=purchase-result]:visible")
    assert page.js_errors == []


def test_clerk_hands_over_mall_goods_and_a_lottery_prize(
    page, shot, sign_in, make_store, make_staff, make_member, grant, make_item, make_lottery,
    client, member_headers, session,
):  # fmt: skip
    from app.models.lottery import LotteryDraw
    from app.models.mall import MallExchange

    store = make_store(name="五角场店")
    clerk = make_staff("clerk", store=store)
    member = make_member(store=store)
    grant(member, 300)
    item = make_item(name="帆布袋", cost_points=100)
    exchanged = client.post(
        f"/api/v1/mall/items/{item.id}/exchanges", json={}, headers=member_headers(member)
    )
    assert exchanged.status_code == 201, exchanged.get_json()
    exchange = exchanged.get_json()["exchange"]
    earphones = {"name": "蓝牙耳机", "kind": "physical", "weight": 1, "stock_total": 5}
    lottery = make_lottery([earphones])
    prize = lottery.prizes[0]
    draw = LotteryDraw(
        lottery_id=lottery.id, member_id=member.id, day=clock.business_date(clock.now()),
        points_spent=0, picked_prize_id=prize.id, prize_id=prize.id, outcome="won",
    )  # fmt: skip
    session.add(draw)
    session.commit()

    sign_in(clerk)
    scan(page, client, member_headers, member)
    pickups = page.locator("[data-testid=pickups] li")
    assert pickups.count() == 2
    text = page.inner_text("[data-testid=pickups]")
    assert "帆布袋" in text and exchange["pickup_code"] in text and "蓝牙耳机" in text
    shot("1-pickups")

    for name in ("帆布袋", "蓝牙耳机"):
        row = page.locator("[data-testid=pickups] li", has_text=name)
        row.locator("[data-testid=collect]").click()
        row.locator("[data-testid=collected]").wait_for()
    shot("2-handed-over")
    session.expire_all()
    handed = session.get(MallExchange, exchange["id"])
    assert (handed.status, handed.collected_store_id) == ("collected", store.id)
    assert session.get(LotteryDraw, draw.id).fulfilled_at is not None
    assert page.js_errors == []


def test_a_full_refund_shows_the_balance_and_the_coupon_given_back(
    page, shot, sign_in, make_store, make_staff, make_member, grant, redeeming, client,
    member_headers, staff_headers, session,
):  # fmt: skip
    """Issue 17: after a full refund the till showed the old balance and "优惠券已核销"."""
    redeeming(RULE)
    store = make_store(name="陆家嘴店")
    clerk = make_staff("clerk", store=store)
    member = make_member(store=store, nickname="小陈")
    grant(member, 2000)
    give_coupon(client, staff_headers, make_staff("marketer"), member)

    sign_in(clerk)
    scan(page, client, member_headers, member)
    page.fill("[data-testid=order-amount]", "150")
    order_no = page.input_value("#order-form input[name=order_no]")
    page.click("[data-testid=use-coupon]")
    page.click("[data-testid=preview]")
    page.wait_for_selector("[data-testid=redeem-preview]:visible")
    page.click("[data-testid=redeem]")
    page.wait_for_selector("[data-testid=redeem-result]:visible")
    assert "优惠券已核销" in page.inner_text("[data-testid=redeem-result]")
    assert page.locator("[data-testid=use-coupon]").count() == 0
    page.fill("[data-testid=points-to-redeem]", "1000")
    page.click("[data-testid=record-purchase]")
    page.wait_for_selector("[data-testid=purchase-result]:visible")
    # 150 - 20 (coupon) = 130; 1000 points take 10 off; 120 paid earns 120.
    assert balance_of(session, member) == 2000 - 1000 + 120
    assert page.inner_text("[data-testid=balance]").startswith("1120")

    page.click("#refund-details summary")
    page.fill("#refund-form input[name=order_no]", order_no)
    page.fill("#refund-form input[name=amount]", "150")
    page.click("[data-testid=refund]")
    page.wait_for_selector("[data-testid=refund-result]:visible")
    shot("refunded")

    assert balance_of(session, member) == 2000
    assert page.inner_text("[data-testid=balance]").startswith("2000"), "the API's balance"
    assert "优惠券已退回：满100减20" in page.inner_text("[data-testid=refund-result]")
    assert page.locator("[data-testid=purchase-result]").is_hidden(), "it named the old balance"
    assert page.locator("[data-testid=redeem-result]").is_hidden()
    assert "满100减20" in page.inner_text("[data-testid=coupons]")
    assert page.locator("[data-testid=use-coupon]").count() == 1
    mine = client.get("/api/v1/me/coupons?status=unused", headers=member_headers(member))
    assert len(mine.get_json()["items"]) == 1

    assert_nothing_covers(page)
    assert page.js_errors == []


def test_the_tills_messages_never_cover_its_forms(
    page, shot, sign_in, make_store, make_staff, make_member, client, member_headers,
    staff_headers,
):  # fmt: skip
    store = make_store()
    member = make_member(store=store)
    give_coupon(client, staff_headers, make_staff("marketer"), member)
    sign_in(make_staff("clerk", store=store))
    scan(page, client, member_headers, member)
    page.fill("[data-testid=order-amount]", "150")
    page.click("[data-testid=use-coupon]")
    page.click("[data-testid=preview]")
    page.wait_for_selector("[data-testid=redeem-preview]:visible")
    page.click("[data-testid=redeem]")
    page.wait_for_selector("#undo-button:visible")
    page.click("#undo-button")
    page.wait_for_selector("#flash.ok:visible")  # 已撤销核销
    assert "已撤销核销" in page.inner_text("#flash")
    assert page.locator("[data-testid=use-coupon]").count() == 1, "the coupon is back"
    page.click("#refund-details summary")
    assert_nothing_covers(page)
    shot("scrolled")
    assert page.js_errors == []
