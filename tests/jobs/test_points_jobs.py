"""The nightly points jobs: expiry and tier evaluation."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from app.models import Member
from app.models.points import PointEntry
from app.services.ledger import points_expiry
from jobs.cli import jobs_cli
from tests.conftest import ledger_invariants

EARNED = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


def run_once(app, name: str, now: str):
    result = app.test_cli_runner().invoke(jobs_cli, args=["run-once", name, "--now", now])
    assert result.exit_code == 0, result.output
    return result


def test_expiry_runs_just_after_midnight_and_keeps_the_last_day(app, session, make_member, grant):
    members = [make_member() for _ in range(3)]
    for m in members:
        grant(m, 40, expires_on=date(2026, 12, 31), now=EARNED)
        grant(m, 10, expires_on=date(2027, 12, 31), now=EARNED)
    # Run on 31 December (Beijing): nothing is due, the last day is still spendable.
    run_once(app, "points_expiry", "2026-12-31T00:05:00+08:00")
    assert all(ledger_invariants(session, m.id) == 50 for m in members)
    run_once(app, "points_expiry", "2027-01-01T00:05:00+08:00")
    for m in members:
        assert ledger_invariants(session, m.id) == 10
        entries = (
            session.execute(
                select(PointEntry).where(
                    PointEntry.member_id == m.id, PointEntry.reason == "expiry"
                )
            )
            .scalars()
            .all()
        )
        assert [(e.delta, e.ref) for e in entries] == [(-40, f"expiry:{m.id}:2027-01-01")]
    # Twice on the same night: nothing more happens.
    run_once(app, "points_expiry", "2027-01-01T00:06:00+08:00")
    assert all(ledger_invariants(session, m.id) == 10 for m in members)


def test_expiry_resumes_after_a_crash_mid_run(app, session, make_member, grant, monkeypatch):
    members = [make_member() for _ in range(5)]
    for m in members:
        grant(m, 7, expires_on=date(2026, 7, 1), now=EARNED)
    real = points_expiry._expire_range
    calls = {"n": 0}

    def crash_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(points_expiry, "_expire_range", crash_on_third)
    today = date(2026, 7, 2)
    with pytest.raises(RuntimeError):
        points_expiry.expire_due_lots(session, today, EARNED, width=1)
    session.rollback()
    done = [m for m in members if ledger_invariants(session, m.id) == 0]
    assert len(done) == 2
    monkeypatch.setattr(points_expiry, "_expire_range", real)
    assert points_expiry.expire_due_lots(session, today, EARNED, width=2) == {
        "members": 3,
        "points": 21,
    }
    assert all(ledger_invariants(session, m.id) == 0 for m in members)


def test_tiers_go_up_at_once_and_down_one_step_a_night(app, session, make_member):
    from app.services import ledger

    member = make_member(tier_code="normal")
    ledger.earn(
        session, member.id, 6000, reason="purchase", ref="p1", now=datetime(2025, 6, 1, tzinfo=UTC)
    )
    session.commit()
    run_once(app, "tiers_evaluate", "2025-06-02T01:00:00+08:00")
    session.expire_all()
    assert session.get(Member, member.id).tier_code == "gold"
    # A year later the purchase no longer counts: gold -> silver -> normal, one step a night.
    run_once(app, "tiers_evaluate", "2026-06-03T01:00:00+08:00")
    session.expire_all()
    assert session.get(Member, member.id).tier_code == "silver"
    run_once(app, "tiers_evaluate", "2026-06-04T01:00:00+08:00")
    session.expire_all()
    assert session.get(Member, member.id).tier_code == "normal"


def test_tier_evaluation_counts_every_member_in_one_pass(app, session, make_member):
    from app.services import ledger
    from app.services.members import tiers

    earned_at = datetime(2026, 5, 1, tzinfo=UTC)
    climbing = make_member(tier_code="normal")
    falling = make_member(tier_code="gold")
    steady = make_member(tier_code="silver")
    newcomer = make_member(tier_code="")
    ledger.earn(session, climbing.id, 1200, reason="purchase", ref="c1", now=earned_at)
    ledger.earn(session, steady.id, 1500, reason="purchase", ref="s1", now=earned_at)
    ledger.earn(session, newcomer.id, 10, reason="checkin", ref="n1", now=earned_at)
    session.commit()
    counts = tiers.evaluate_all(session, datetime(2026, 6, 1, tzinfo=UTC))
    assert counts == {
        "changed": 3,
        "upgraded": 1,
        "downgraded": 1,
        "in_grace": 0,
        "notices": 0,
        "gift_points": 0,
        "gift_coupons": 0,
    }
    session.expire_all()
    assert [session.get(Member, m.id).tier_code for m in (climbing, falling, steady, newcomer)] == [
        "silver",
        "silver",
        "silver",
        "normal",
    ]
