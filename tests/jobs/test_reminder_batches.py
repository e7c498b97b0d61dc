"""The reminder and wake-up jobs are set-based, a range of member ids per statement: the result
does not depend on where the ranges fall, and a second run queues nothing more."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from app.models.coupons import Coupon, CouponTemplate
from app.models.messaging import OutboxMessage
from app.models.segments import MemberSegment
from app.services import programs
from app.services.messaging import reminders
from tests.concurrency import bulk_members

MORNING = datetime(2026, 12, 25, 2, 0, tzinfo=UTC)  # 10:00 Beijing
EARNED = datetime(2026, 1, 5, tzinfo=UTC)


def test_expiry_reminders_over_many_ranges(session, make_member, grant, monkeypatch):
    monkeypatch.setattr(reminders, "BATCH", 3)
    members = [make_member() for _ in range(10)]
    for i, m in enumerate(members):
        if i % 3 == 0:
            continue  # nothing expiring
        grant(m, 10 + i, expires_on=date(2026, 12, 28), now=EARNED)
        grant(m, 5, expires_on=date(2026, 12, 30), now=EARNED)  # later: not the one named
        if i % 2:
            grant(m, 1, expires_on=date(2027, 6, 1), now=EARNED)  # beyond the horizon
    assert reminders.points_expiry_reminder(session, MORNING) == {"members": 6, "queued": 6}
    rows = session.execute(select(OutboxMessage).order_by(OutboxMessage.member_id)).scalars()
    by_member = {r.member_id: r for r in rows}
    for i, m in enumerate(members):
        if i % 3 == 0:
            assert m.id not in by_member
            continue
        row = by_member[m.id]
        assert (row.purpose, row.dedupe_key, row.marketing) == (
            "points_expiry",
            "2026-12-28",
            False,
        )
        assert row.params == {"expiring_points": 10 + i, "expires_on": "2026-12-28"}
        assert row.not_before == MORNING and row.state == "pending"
    assert reminders.points_expiry_reminder(session, MORNING) == {"members": 6, "queued": 0}


def test_wakeups_over_many_ranges_with_the_coupon_stock_running_out(session, monkeypatch):
    from app.models import Staff

    monkeypatch.setattr(reminders, "BATCH", 4)
    template = CouponTemplate(
        name="回来看看",
        kind="amount_off",
        amount_off_fen=500,
        validity_mode="relative",
        valid_days=14,
        stock_total=7,
        claimable=False,
    )
    admin = Staff(username="wake-batches", password_hash="x", role="admin")
    session.add_all([template, admin])
    session.commit()
    programs.put_config(session, "messaging", {"wakeup_coupon_template_id": template.id}, admin)
    members = bulk_members(session, 15)
    for i, m in enumerate(members):
        stage = "sleeping" if i % 5 else "active"
        session.add(
            MemberSegment(
                member_id=m,
                lifecycle_stage=stage,
                stage_since=date(2026, 11, 30),
                frequency=0,
                monetary_fen=0,
                computed_at=MORNING,
            )
        )
    session.commit()
    counts = reminders.dormant_wakeup(session, MORNING)
    assert counts == {"sleeping": 12, "queued": 12, "coupons": 7}
    session.expire_all()
    assert session.get(CouponTemplate, template.id).issued == 7
    coupons = session.execute(select(Coupon.member_id, Coupon.ref)).all()
    asleep = [m for i, m in enumerate(members) if i % 5]
    assert sorted(m for m, _ in coupons) == asleep[:7]  # lowest ids first
    assert {ref for _, ref in coupons} == {f"wakeup:{m}:2026-11-30" for m in asleep[:7]}
    keys = session.scalar(
        select(func.count()).where(
            OutboxMessage.purpose == "dormant_wakeup", OutboxMessage.marketing
        )
    )
    assert keys == 12
    assert reminders.dormant_wakeup(session, MORNING) == {"sleeping": 0, "queued": 0, "coupons": 0}
