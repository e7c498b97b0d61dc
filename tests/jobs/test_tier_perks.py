"""Tier perks (issue 19): the upgrade gift once per upgrade a year, the monthly coupons of the
job tier_benefits (once a month under reruns and crashes, constant statements per batch), the
grace days, and the downgrade notice queued once before the downgrade."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from app import clock
from app.models import Member
from app.models.coupons import Coupon
from app.models.messaging import OutboxMessage
from app.models.points import PointEntry
from app.services import ledger
from app.services.benefits import tier_benefits
from app.services.ledger import points_program
from app.services.members import tiers
from app.services.messaging import message_templates, outbox, send_prepare
from jobs.schedule import run_job
from tests.concurrency import bulk_members
from tests.conftest import error_code, ledger_invariants
from tests.test_coupons_statements import counting

pytest_plugins = ["tests.engagement_factories", "tests.staff.test_till"]  # make_template, till

# 01:00 Beijing on 1 July 2026 (the nightly evaluation's hour; the 1st for the monthly coupons).
JULY_1 = datetime(2026, 6, 30, 17, 0, tzinfo=UTC)


@pytest.fixture
def perks(session, make_staff, make_template):
    """The points program's tiers with perks: normal and silver have monthly coupons, silver an
    upgrade gift and 30 grace days, gold a points gift and no grace."""
    templates = {
        name: make_template(name=name, claimable=False, stock_total=1000, limit_per_member=100)
        for name in ("normal_monthly", "silver_monthly", "silver_gift")
    }
    cfg = points_program.config(session)
    normal, silver, gold = points_program.tiers(cfg)
    normal["monthly_coupons"] = [templates["normal_monthly"].id]
    silver.update(
        upgrade_gift={"points": 50, "coupon_template_id": templates["silver_gift"].id},
        monthly_coupons=[templates["silver_monthly"].id, templates["normal_monthly"].id],
        grace_days=30,
    )
    gold.update(upgrade_gift={"points": 200, "coupon_template_id": None}, grace_days=0)
    cfg["tiers"] = [normal, silver, gold]
    points_program.save_program(session, cfg, make_staff("admin"))
    return templates


def refs(session, member_id, prefix):
    session.expire_all()
    entries = session.scalars(
        select(PointEntry.ref).where(
            PointEntry.member_id == member_id, PointEntry.ref.like(f"{prefix}%")
        )
    ).all()
    coupons = session.scalars(
        select(Coupon.ref).where(Coupon.member_id == member_id, Coupon.ref.like(f"{prefix}%"))
    ).all()
    return sorted(entries), sorted(coupons)


def tier_of(session, member_id):
    session.expire_all()
    member = session.get(Member, member_id)
    return member.tier_code, member.tier_below_since


def test_an_upgrade_at_the_till_gives_the_gift_once_a_year(client, till, perks, session):
    body = {"order_no": "U-1", "amount_fen": 100_000}
    answer = client.post(
        "/staff/v1/purchases", json={"scan_id": till.scan(), **body}, headers=till.headers
    )
    assert answer.status_code == 201, answer.get_json()
    member = till.member.id
    year = clock.business_date(clock.now()).year
    ref = f"tier_gift:{member}:silver:{year}"
    assert tier_of(session, member) == ("silver", None)
    assert refs(session, member, "tier_gift") == ([ref], [ref])
    assert ledger_invariants(session, member) == 1000 + 50
    assert answer.get_json()["balance"] == 1000 + 50  # the gift is in the answer's balance
    # Down (as a night would) and up again the same year: no second gift.
    session.get(Member, member).tier_code = "normal"
    session.commit()
    body["order_no"] = "U-2"
    client.post("/staff/v1/purchases", json={"scan_id": till.scan(), **body}, headers=till.headers)
    assert tier_of(session, member)[0] == "silver"
    assert refs(session, member, "tier_gift") == ([ref], [ref])
    # The next year's upgrade gives the next year's gift.
    session.get(Member, member).tier_code = "normal"
    session.commit()
    next_year = clock.business_day_start(date(year + 1, 1, 2))
    assert tiers.upgrade_if_reached(session, member, next_year) == "silver"
    session.commit()
    later = f"tier_gift:{member}:silver:{year + 1}"
    assert refs(session, member, "tier_gift") == ([ref, later], [ref, later])
    assert ledger_invariants(session, member) == 2000 + 100


def test_the_nightly_evaluation_gives_upgrade_gifts_once(perks, session, make_member):
    climber = make_member(tier_code="normal")
    ledger.earn(session, climber.id, 6000, reason="purchase", ref="p1", now=JULY_1)
    session.commit()
    clock.freeze(JULY_1)
    counts = run_job("tiers_evaluate")
    assert (counts["upgraded"], counts["gift_points"], counts["gift_coupons"]) == (1, 200, 0)
    assert refs(session, climber.id, "tier_gift") == ([f"tier_gift:{climber.id}:gold:2026"], [])
    assert run_job("tiers_evaluate")["gift_points"] == 0
    assert ledger_invariants(session, climber.id) == 6200


def test_grace_days_keep_the_tier_and_the_notice_is_queued_once_before(perks, session, make_member):
    falling = make_member(tier_code="silver")
    steady = make_member(tier_code="silver")
    ledger.earn(session, steady.id, 1000, reason="purchase", ref="s1", now=JULY_1)
    session.commit()
    clock.freeze(JULY_1)
    counts = run_job("tiers_evaluate")
    assert (counts["in_grace"], counts["notices"], counts["downgraded"]) == (1, 1, 0)
    first_day = date(2026, 7, 1)
    assert tier_of(session, falling.id) == ("silver", first_day)
    assert tier_of(session, steady.id) == ("silver", None)
    notice = session.scalars(select(OutboxMessage)).one()
    assert (notice.purpose, notice.member_id, notice.marketing) == (
        "tier_downgrade_notice",
        falling.id,
        False,
    )
    assert notice.dedupe_key == "silver:2026-07-01"
    assert notice.params == {
        "tier_code": "silver",
        "tier_name": "银卡会员",
        "downgrade_on": "2026-07-31",
    }
    # What the member will read (the default subscribe template, filled for them).
    spec = outbox.settings(session)["templates"]["tier_downgrade_notice"]["subscribe"]
    values = send_prepare.member_values(session, falling, notice.params, JULY_1, spec)
    shown = message_templates.fill(spec, values)
    assert (shown["thing1"]["value"], shown["date2"]["value"]) == ("银卡会员", "2026年7月31日")
    # The same night again, and the 29 nights after: kept, nothing queued again.
    assert run_job("tiers_evaluate")["notices"] == 0
    clock.freeze(JULY_1 + timedelta(days=29))
    assert run_job("tiers_evaluate") == {**counts, "notices": 0}
    assert tier_of(session, falling.id) == ("silver", first_day)
    # Day 30: down one tier (normal is the lowest: no grace to start).
    clock.freeze(JULY_1 + timedelta(days=30))
    assert run_job("tiers_evaluate")["downgraded"] == 1
    assert tier_of(session, falling.id) == ("normal", None)
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert notice.created_at < JULY_1 + timedelta(days=30)


def test_buying_back_in_the_grace_keeps_the_tier_and_a_tier_without_grace_drops_at_once(
    perks, session, make_member
):
    back = make_member(tier_code="silver")
    gold = make_member(tier_code="gold")
    ledger.earn(session, gold.id, 1500, reason="purchase", ref="g1", now=JULY_1)
    session.commit()
    clock.freeze(JULY_1)
    run_job("tiers_evaluate")
    assert tier_of(session, back.id) == ("silver", date(2026, 7, 1))
    # Gold has no grace: silver at once, and the member is within silver (no grace starts).
    assert tier_of(session, gold.id) == ("silver", None)
    ledger.earn(session, back.id, 1000, reason="purchase", ref="b1", now=JULY_1 + timedelta(days=3))
    session.commit()
    clock.freeze(JULY_1 + timedelta(days=10))
    run_job("tiers_evaluate")
    assert tier_of(session, back.id) == ("silver", None)
    clock.freeze(JULY_1 + timedelta(days=40))
    run_job("tiers_evaluate")
    assert tier_of(session, back.id) == ("silver", None)


def test_monthly_coupons_once_a_month_and_a_crash_gives_nothing_twice(
    perks, session, make_member, monkeypatch
):
    members = [make_member(tier_code="normal") for _ in range(3)]
    members += [make_member(tier_code="silver") for _ in range(3)]
    closed = make_member(tier_code="silver", closed_at=JULY_1 - timedelta(days=1))
    monkeypatch.setattr(tier_benefits, "BATCH", 2)
    real_push = tier_benefits.coupon_push.push_coupons
    pushes = {"n": 0}

    def crash_on_the_third_push(session_, template_id, ids, refs_, **kwargs):
        pushes["n"] += 1
        if pushes["n"] == 3:
            raise RuntimeError("the scheduler's host went away")
        return real_push(session_, template_id, ids, refs_, **kwargs)

    monkeypatch.setattr(tier_benefits.coupon_push, "push_coupons", crash_on_the_third_push)
    clock.freeze(JULY_1)
    with pytest.raises(RuntimeError):
        run_job("tier_benefits")
    monkeypatch.setattr(tier_benefits.coupon_push, "push_coupons", real_push)
    clock.freeze(JULY_1 + timedelta(minutes=5))
    counts = run_job("tier_benefits")
    assert counts["members"] == 6
    assert run_job("tier_benefits") == {"members": 6, "coupons": 0}
    normal_t, silver_t = perks["normal_monthly"].id, perks["silver_monthly"].id
    for m in members:
        expected = [f"tier_monthly:{m.id}:2026-07:{normal_t}"]
        if m.tier_code == "silver":
            expected = sorted([*expected, f"tier_monthly:{m.id}:2026-07:{silver_t}"])
        assert refs(session, m.id, "tier_monthly") == ([], expected)
    assert refs(session, closed.id, "tier_monthly") == ([], [])
    total = session.scalar(select(func.count()).select_from(Coupon))
    assert total == 3 + 3 * 2
    # The next month: the next coupons.
    clock.freeze(JULY_1 + timedelta(days=31))
    assert run_job("tier_benefits") == {"members": 6, "coupons": 9}


def test_monthly_coupons_cost_the_same_statements_for_a_batch_of_any_size(app, perks, session):
    clock.freeze(JULY_1)

    def statements_for(count: int) -> int:
        ids = bulk_members(session, count)
        session.execute(
            text("UPDATE members SET tier_code = 'silver' WHERE id = ANY(:ids)"), {"ids": ids}
        )
        session.commit()
        with counting(app) as sent:
            counts = tier_benefits.give_monthly_coupons(session, JULY_1, width=10_000_000)
        assert counts["coupons"] == 2 * count
        session.execute(text("UPDATE members SET tier_code = 'gold'"))  # out of the next run
        session.commit()
        return len(sent)

    statements_for(3)  # warm: settings, compiled SQL
    small, large = statements_for(5), statements_for(200)
    assert small == large


def test_tier_perks_are_validated(client, make_staff, staff_headers, make_template):
    admin = staff_headers(make_staff("admin"))
    current = client.get("/staff/v1/admin/programs/points", headers=admin).get_json()
    template = make_template(claimable=False)

    def put(**fields):
        tiers_ = [dict(t) for t in current["tiers"]]
        tiers_[1].update(fields)
        return client.put(
            "/staff/v1/admin/programs/points", json={**current, "tiers": tiers_}, headers=admin
        )

    for bad in (
        {"grace_days": -1},
        {"grace_days": 366},
        {"upgrade_gift": {}},
        {"upgrade_gift": {"points": -5}},
        {"upgrade_gift": {"coupon_template_id": 987654}},
        {"monthly_coupons": [987654]},
        {"monthly_coupons": ["x"]},
    ):
        response = put(**bad)
        assert response.status_code == 422, (bad, response.get_json())
        assert error_code(response) == "request.invalid"
    saved = put(
        upgrade_gift={"points": 10, "coupon_template_id": template.id},
        monthly_coupons=[template.id],
        grace_days=14,
    )
    assert saved.status_code == 200, saved.get_json()
    silver = saved.get_json()["tiers"][1]
    assert (silver["grace_days"], silver["monthly_coupons"]) == (14, [template.id])
    assert silver["upgrade_gift"] == {"points": 10, "coupon_template_id": template.id}


def test_orders_at_once_that_reach_a_tier_give_its_gift_once(live_server, till, perks, session):
    """Twelve ¥100 orders at once reach silver together: one upgrade, one gift."""
    from tests.concurrency import fire

    scan_id = till.scan()
    url = live_server + "/staff/v1/purchases"
    calls = [
        lambda s, i=i: s.post(
            url,
            json={"scan_id": scan_id, "order_no": f"G-{i}", "amount_fen": 10_000},
            headers=till.headers,
            timeout=30,
        )
        for i in range(12)
    ]
    answers = fire(calls, clients=12)
    assert [a.status_code for a in answers] == [201] * 12
    member = till.member.id
    ref = f"tier_gift:{member}:silver:{clock.business_date(clock.now()).year}"
    assert tier_of(session, member)[0] == "silver"
    assert refs(session, member, "tier_gift") == ([ref], [ref])
    awarded = sum(a.json()["points_awarded"] for a in answers)
    assert ledger_invariants(session, member) == awarded + 50
