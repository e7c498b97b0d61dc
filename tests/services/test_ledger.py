"""The points ledger's building blocks and invariants."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from app import clock
from app.errors import AppError
from app.models.points import PointEntry, PointLot
from app.services import ledger
from tests.conftest import ledger_invariants

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # 12:00 in Beijing


def test_earn_creates_a_lot_with_the_programs_expiry(session, make_member):
    member = make_member()
    entry = ledger.earn(session, member.id, 100, reason="purchase", ref="p:1", now=NOW)
    session.commit()
    assert entry.balance_after == 100
    # Default policy: valid until the end of next year.
    assert entry.expires_on == date(2027, 12, 31)
    lot = session.execute(select(PointLot)).scalar_one()
    assert (lot.earned, lot.remaining) == (100, 100)
    assert ledger_invariants(session, member.id) == 100


def test_a_repeated_ref_is_a_no_op(session, make_member):
    member = make_member()
    first = ledger.earn(session, member.id, 100, reason="purchase", ref="p:1", now=NOW)
    again = ledger.earn(session, member.id, 100, reason="purchase", ref="p:1", now=NOW)
    session.commit()
    assert again.id == first.id
    assert ledger_invariants(session, member.id) == 100


def test_spend_takes_the_soonest_expiring_lots_first(session, make_member):
    member = make_member()
    ledger.earn(session, member.id, 50, reason="a", ref="a", now=NOW, expires_on=date(2027, 1, 31))
    ledger.earn(session, member.id, 30, reason="b", ref="b", now=NOW, expires_on=date(2026, 7, 31))
    ledger.spend(session, member.id, 40, reason="draw", ref="s", now=NOW)
    session.commit()
    lots = {lot.expires_on: lot.remaining for lot in session.execute(select(PointLot)).scalars()}
    assert lots == {date(2026, 7, 31): 0, date(2027, 1, 31): 40}
    assert ledger_invariants(session, member.id) == 40


def test_spending_more_than_the_balance_is_refused_and_leaves_no_trace(session, make_member):
    member = make_member()
    ledger.earn(session, member.id, 10, reason="a", ref="a", now=NOW)
    session.commit()
    with pytest.raises(AppError) as refused:
        ledger.spend(session, member.id, 11, reason="draw", ref="s", now=NOW)
    assert (refused.value.status, refused.value.code) == (409, "points.insufficient")
    session.commit()
    assert session.execute(select(PointEntry).where(PointEntry.ref == "s")).first() is None
    assert ledger_invariants(session, member.id) == 10


def test_debit_can_go_negative_and_the_next_earning_repays_it(session, make_member):
    member = make_member()
    ledger.earn(session, member.id, 100, reason="purchase", ref="p", now=NOW)
    ledger.spend(session, member.id, 80, reason="draw", ref="s", now=NOW)
    ledger.debit(session, member.id, 100, reason="refund", ref="r", now=NOW)
    session.commit()
    assert ledger_invariants(session, member.id) == -80
    with pytest.raises(AppError):
        ledger.spend(session, member.id, 1, reason="draw", ref="s2", now=NOW)
    session.rollback()
    ledger.earn(session, member.id, 50, reason="checkin", ref="c", now=NOW)
    session.commit()
    assert ledger_invariants(session, member.id) == -30
    assert session.execute(select(PointLot).where(PointLot.remaining > 0)).first() is None
    ledger.earn(session, member.id, 50, reason="checkin", ref="c2", now=NOW)
    session.commit()
    assert ledger_invariants(session, member.id) == 20
    assert session.execute(select(PointLot.remaining).where(PointLot.remaining > 0)).scalar() == 20


def test_points_are_spendable_through_their_last_day_in_beijing(session, make_member):
    member = make_member()
    ledger.earn(session, member.id, 30, reason="a", ref="a", now=NOW, expires_on=date(2026, 12, 31))
    session.commit()
    # 23:59 on 31 December in Beijing is 15:59 UTC: still spendable.
    last_minute = datetime(2026, 12, 31, 15, 59, tzinfo=UTC)
    ledger.spend(session, member.id, 10, reason="draw", ref="s1", now=last_minute)
    session.commit()
    # 00:01 on 1 January in Beijing (still 31 December in UTC): expired first, so refused.
    next_day = datetime(2026, 12, 31, 16, 1, tzinfo=UTC)
    with pytest.raises(AppError):
        ledger.spend(session, member.id, 10, reason="draw", ref="s2", now=next_day)
    session.rollback()
    assert ledger_invariants(session, member.id) == 20


def test_expiring_summary_groups_the_next_30_days_by_date(session, make_member):
    member = make_member()
    clock.freeze(NOW)
    ledger.earn(session, member.id, 5, reason="a", ref="a", now=NOW, expires_on=date(2026, 6, 10))
    ledger.earn(session, member.id, 7, reason="b", ref="b", now=NOW, expires_on=date(2026, 6, 10))
    ledger.earn(session, member.id, 9, reason="c", ref="c", now=NOW, expires_on=date(2026, 6, 30))
    ledger.earn(session, member.id, 11, reason="d", ref="d", now=NOW, expires_on=date(2026, 8, 1))
    session.commit()
    assert ledger.expiring_summary(session, member.id, date(2026, 6, 1)) == [
        {"points": 12, "expires_on": date(2026, 6, 10)},
        {"points": 9, "expires_on": date(2026, 6, 30)},
    ]


def test_a_check_in_repays_a_debt_before_it_creates_a_lot(session, make_member):
    """Check-in's one statement pays by the ledger's earn rule, debt first, like ledger.earn."""
    from app.services import checkin

    member = make_member(joined_at=NOW)
    ledger.earn(session, member.id, 10, reason="purchase", ref="p", now=NOW)
    ledger.spend(session, member.id, 7, reason="draw", ref="s", now=NOW)
    ledger.debit(session, member.id, 10, reason="refund", ref="r", now=NOW)  # balance -7
    session.commit()
    first = checkin.check_in(session, member.id, now=NOW)
    assert (first["points_awarded"], first["balance"]) == (5, -2)
    assert session.execute(select(PointLot.id).where(PointLot.remaining > 0)).first() is None
    second = checkin.check_in(session, member.id, now=NOW.replace(day=2))
    assert (second["points_awarded"], second["balance"]) == (5, 3)
    # The 3 left after the debt go into the lot of that expiry date, the purchase's (one lot per
    # member and date): it earned 10 + 3 and has 3.
    lot = session.execute(select(PointLot).where(PointLot.remaining > 0)).scalar_one()
    assert (lot.earned, lot.remaining, lot.expires_on) == (13, 3, date(2027, 12, 31))
    assert ledger_invariants(session, member.id) == 3


def test_a_lazy_and_a_nightly_expiry_of_one_day_write_one_entry(session, make_member):
    from app.services.ledger import points_expiry

    member = make_member()
    ledger.earn(
        session, member.id, 30, reason="purchase", ref="p", now=NOW, expires_on=date(2026, 5, 31)
    )
    ledger.earn(session, member.id, 5, reason="checkin", ref="c", now=NOW)
    session.commit()
    ledger.spend(session, member.id, 1, reason="draw", ref="s", now=NOW)  # expires the 30 first
    session.commit()
    assert points_expiry.expire_due_lots(session, date(2026, 6, 1), NOW) == {
        "members": 0,
        "points": 0,
    }
    expiries = session.execute(select(PointEntry).where(PointEntry.reason == "expiry")).scalars()
    assert [(e.delta, e.balance_after) for e in expiries] == [(-30, 5)]
    assert ledger_invariants(session, member.id) == 4
