"""dormant_wakeup: members who entered the sleeping stage, once per spell, at most every 30 days,
with the optional wake-up coupon."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from app import clock
from app.models.coupons import Coupon, CouponTemplate
from app.models.messaging import OutboxMessage
from app.models.segments import MemberSegment
from app.services import programs
from app.services.messaging import subscriptions
from jobs.schedule import run_job

MORNING = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)  # 10:30 Beijing


def _stage(session, member, stage: str, since: date) -> None:
    row = session.get(MemberSegment, member.id)
    if row is None:
        row = MemberSegment(member_id=member.id, frequency=0, monetary_fen=0, computed_at=MORNING)
        session.add(row)
    row.lifecycle_stage, row.stage_since = stage, since
    session.commit()


def test_sleeping_members_are_woken_once_with_a_coupon(app, session, make_member, live_server):
    import requests

    template = CouponTemplate(
        name="回来看看",
        kind="amount_off",
        amount_off_fen=500,
        validity_mode="relative",
        valid_days=14,
        stock_total=100,
        claimable=False,
    )
    session.add(template)
    session.commit()
    programs.put_config(
        session,
        "messaging",
        {"wakeup_coupon_template_id": template.id},
        staff=_admin(session),
    )
    asleep, awake = make_member(nickname="阿梅"), make_member()
    subscriptions.record_result(session, asleep.id, ["tmpl-wakeup", "tmpl-wakeup"], [])
    _stage(session, asleep, "sleeping", date(2026, 11, 30))
    _stage(session, awake, "active", date(2026, 10, 1))

    clock.freeze(MORNING)
    assert run_job("dormant_wakeup", MORNING) == {"sleeping": 1, "queued": 1, "coupons": 1}
    run_job("messages_dispatch", MORNING)
    sent = requests.get(live_server + "/_sandbox/wechat/messages", timeout=5).json()["items"]
    assert [(m["touser"], m["data"]["name1"]["value"]) for m in sent] == [(asleep.openid, "阿梅")]
    coupons = session.execute(select(Coupon).where(Coupon.member_id == asleep.id)).scalars()
    assert len(list(coupons)) == 1

    # The next day: the same sleeping spell is not woken again.
    assert run_job("dormant_wakeup", MORNING + timedelta(days=1))["queued"] == 0
    # Awake, then asleep again 10 days later: still inside 30 days, so nothing.
    _stage(session, asleep, "sleeping", date(2026, 12, 10))
    assert run_job("dormant_wakeup", MORNING + timedelta(days=10))["queued"] == 0
    # After 30 days, the new spell is woken.
    assert run_job("dormant_wakeup", MORNING + timedelta(days=31))["queued"] == 1
    keys = session.execute(
        select(OutboxMessage.dedupe_key).where(OutboxMessage.purpose == "dormant_wakeup")
    ).scalars()
    assert sorted(keys) == ["2026-11-30", "2026-12-10"]


def _admin(session):
    from app.models import Staff

    staff = Staff(username="wake-admin", password_hash="x", role="admin")
    session.add(staff)
    session.commit()
    return staff
