"""Referral review and coupon pushes (marketer), in the browser."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.models.coupons import Coupon
from app.models.referrals import Referral, ReferralReward

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.engagement_factories"]


def flagged_referral(session, make_member, held_points: int = 100) -> Referral:
    referrer, invitee = make_member(), make_member()
    now = clock.now()
    referral = Referral(
        referrer_id=referrer.id,
        invitee_id=invitee.id,
        status="qualified",
        flagged=True,
        qualify_by=now + timedelta(days=7),
        qualified_at=now,
    )
    session.add(referral)
    session.flush()
    session.add(
        ReferralReward(
            referral_id=referral.id,
            member_id=referrer.id,
            role="referrer",
            points=held_points,
            status="held",
            due_at=now + timedelta(days=7),
        )
    )
    session.commit()
    return referral


def test_marketer_approves_one_flagged_referral_and_rejects_another(
    page, shot, sign_in, make_staff, make_member, session
):
    marketer = make_staff("marketer")
    good = flagged_referral(session, make_member)
    bad = flagged_referral(session, make_member)
    sign_in(marketer, "/console/referrals")
    page.wait_for_selector(f"[data-testid=referrals] tr[data-referral-id='{good.id}']")
    assert page.locator("[data-testid=referrals] tr[data-referral-id]").count() == 2
    shot("1-waiting")

    page.locator(f"tr[data-referral-id='{good.id}'] [data-testid=approve]").click()
    page.wait_for_selector(f"tr[data-referral-id='{good.id}']", state="detached")
    assert f"#{good.id}" in page.inner_text("#flash")
    page.locator(f"tr[data-referral-id='{bad.id}'] [data-testid=reject]").click()
    page.wait_for_selector("[data-testid=referrals] [data-testid=none]")
    shot("2-reviewed")

    session.expire_all()
    rewards = dict(session.execute(select(ReferralReward.referral_id, ReferralReward.status)).all())
    assert rewards == {good.id: "pending", bad.id: "cancelled"}
    assert session.get(Referral, bad.id).status == "rejected"
    assert session.get(Referral, good.id).reviewed_by == marketer.id

    # Every referral, reviewed ones included, is one tick away.
    page.check("[data-testid=show-all]")
    page.wait_for_selector(f"tr[data-referral-id='{bad.id}'] >> text=已拒绝")
    assert page.locator(f"tr[data-referral-id='{good.id}']").count() == 1
    assert page.js_errors == []


def test_marketer_pushes_a_coupon_to_an_audience_and_sees_it_issued(
    page, shot, sign_in, make_staff, make_store, make_member, make_template, session
):
    marketer = make_staff("marketer")
    store = make_store(name="人民广场店")
    make_store(name="徐家汇店")
    targets = [make_member(store=store) for _ in range(4)]
    bystander = make_member(store=None)
    template = make_template(name="周末满100减20", stock_total=3)

    sign_in(marketer, "/console/pushes")
    page.select_option("[data-testid=template]", str(template.id))
    page.get_by_label("人民广场店").check()
    # The live count is the campaigns page's: only this store's 4 members.
    page.wait_for_selector("[data-testid=audience-count][data-count='4']")
    page.click("[data-testid=push]")
    assert "4 位会员" in page.inner_text("[data-testid=push-confirm]")
    shot("1-confirm")
    page.click("[data-testid=confirm-push]")
    page.wait_for_selector("[data-testid=push-result]:visible")
    result = page.locator("[data-testid=push-result]")
    assert result.locator("[data-testid=fig-requested] strong").inner_text() == "4"
    assert result.locator("[data-testid=fig-issued] strong").inner_text() == "3"  # stock of 3
    assert result.locator("[data-testid=fig-refused] strong").inner_text() == "1"
    shot("2-result")

    def holders() -> set[int]:
        session.expire_all()
        query = select(Coupon.member_id).where(Coupon.template_id == template.id)
        return set(session.execute(query).scalars())

    issued = holders()
    assert len(issued) == 3 and issued <= {m.id for m in targets}
    assert bystander.id not in issued

    # Pressing again for the same coupon and audience gives nobody a second one.
    page.click("[data-testid=push]")
    page.click("[data-testid=confirm-push]")
    page.wait_for_selector("[data-testid=fig-already] strong:text-is('3')")
    assert result.locator("[data-testid=fig-issued] strong").inner_text() == "0"
    assert holders() == issued
    count = select(func.count()).select_from(Coupon).where(Coupon.template_id == template.id)
    assert session.execute(count).scalar_one() == 3
    assert page.js_errors == []
