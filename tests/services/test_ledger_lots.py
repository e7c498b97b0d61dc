"""Lots by expiry date: earnings that expire together share a lot, a spend is three statements
however many lots it takes from (and locks only those), a refund takes back its own earning's
unspent points first (issue 15)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from app.errors import AppError
from app.models.points import PointEntry, PointLot
from app.services import ledger
from tests.conftest import ledger_invariants
from tests.test_coupons_statements import counting

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
LATE = date(2027, 12, 31)
SOON = date(2026, 7, 31)


def _lots(session, member_id: int) -> dict:
    session.expire_all()
    return dict(
        session.execute(
            select(PointLot.expires_on, PointLot.remaining).where(PointLot.member_id == member_id)
        ).all()
    )


def _earn(session, member, points, ref, expires_on):
    return ledger.earn(
        session, member.id, points, reason="purchase", ref=ref, now=NOW, expires_on=expires_on
    )


def test_earnings_that_expire_together_add_to_one_lot(session, make_member):
    member = make_member()
    _earn(session, member, 100, "a", LATE)
    _earn(session, member, 30, "b", LATE)
    _earn(session, member, 5, "c", SOON)
    _earn(session, member, 30, "b", LATE)  # a repeated ref adds nothing
    session.commit()
    lots = session.execute(
        select(PointLot.expires_on, PointLot.earned, PointLot.remaining)
        .where(PointLot.member_id == member.id)
        .order_by(PointLot.expires_on)
    ).all()
    assert [tuple(lot) for lot in lots] == [(SOON, 5, 5), (LATE, 130, 130)]
    assert ledger_invariants(session, member.id) == 135


def _daily_lots(session, member, days: int, points: int = 5) -> None:
    """`days` check-in days' worth of points, each day's with its own expiry date."""
    for day in range(days):
        ledger.earn(
            session,
            member.id,
            points,
            reason="checkin",
            ref=f"checkin:{member.id}:{day}",
            now=NOW,
            expires_on=date(2026, 7, 1) + timedelta(days=day),
        )
    session.commit()


def _spend_cost(app, session, member, points: int, ref: str) -> list[str]:
    member_id = member.id  # (loaded before counting)
    with counting(app) as sent:
        entry = ledger.spend(session, member_id, points, reason="draw", ref=ref, now=NOW)
    session.commit()
    assert entry.delta == -points
    return sent


def test_spending_1000_points_of_daily_lots_is_three_statements(app, session, make_member):
    small, large = make_member(), make_member()
    _daily_lots(session, small, 1, points=1000)
    _daily_lots(session, large, 300)
    one_lot = _spend_cost(app, session, small, 1000, "s:small")
    many_lots = _spend_cost(app, session, large, 1000, "s:large")
    # The member's lock, the lazy expiry, the take (entry, balance and the 200 lots it empties).
    assert len(one_lot) == len(many_lots) == 3, many_lots
    lots = _lots(session, large.id)
    assert sum(1 for left in lots.values() if left == 0) == 200
    assert min(day for day, left in lots.items() if left) == date(2026, 7, 1) + timedelta(200)
    assert ledger_invariants(session, large.id) == 500
    # A refusal costs one statement more (to tell a used ref from a refusal); a repeated ref
    # returns the first entry.
    large_id = large.id
    with counting(app) as refused, pytest.raises(AppError):
        ledger.spend(session, large_id, 501, reason="draw", ref="s:again", now=NOW)
    session.rollback()
    assert len(refused) == 4, refused
    again = ledger.spend(session, large.id, 1000, reason="draw", ref="s:large", now=NOW)
    assert again.balance_after == 500


def test_a_spend_locks_only_the_lots_it_takes(app, session, make_member):
    from app.extensions import db

    member = make_member()
    _daily_lots(session, member, 10)
    ledger.spend(session, member.id, 12, reason="draw", ref="s", now=NOW)  # 3 lots, open
    first, last = date(2026, 7, 1), date(2026, 7, 10)
    with db.engine.connect() as other:
        other.execute(sa.text("SET lock_timeout = '200ms'"))

        def lock(day):
            return other.execute(
                sa.text(
                    "SELECT remaining FROM point_lots WHERE member_id = :m AND expires_on = :d"
                    " FOR UPDATE NOWAIT"
                ),
                {"m": member.id, "d": day},
            )

        assert lock(last).scalar_one() == 5  # untouched: free
        other.rollback()
        with pytest.raises(sa.exc.OperationalError):
            lock(first)  # taken: locked until the spend commits
        other.rollback()
    session.commit()
    assert _lots(session, member.id)[date(2026, 7, 3)] == 3
    assert ledger_invariants(session, member.id) == 38


def test_a_refund_takes_back_its_own_unspent_points_first(session, make_member):
    member = make_member()
    bought = _earn(session, member, 100, "purchase:1", LATE)
    _earn(session, member, 50, "checkin:1", SOON)
    ledger.spend(session, member.id, 30, reason="draw", ref="s", now=NOW)  # from the SOON lot
    back = ledger.debit(
        session,
        member.id,
        60,
        reason="refund",
        ref="refund:1",
        now=NOW,
        reverses_entry_id=bought.id,
    )
    session.commit()
    # The purchase's 100 are unspent: the 60 come out of its lot, the check-in points stay.
    assert _lots(session, member.id) == {SOON: 20, LATE: 40}
    assert back.balance_after == 60
    recorded = session.execute(select(PointEntry).where(PointEntry.ref == "refund:1")).scalar_one()
    assert (recorded.delta, recorded.reverses_entry_id) == (-60, bought.id)
    assert ledger_invariants(session, member.id) == 60


def test_a_refund_after_a_partial_spend_of_its_lot_is_exact(session, make_member):
    """Two purchases share a lot; a spend takes the lot's oldest earnings first, so what is left
    is the newer purchase's: its refund takes that back first, the older one's finds nothing of
    its own and takes soonest-expiring first, the rest is debt."""
    member = make_member()
    older = _earn(session, member, 100, "purchase:1", LATE)
    newer = _earn(session, member, 50, "purchase:2", LATE)
    ledger.spend(session, member.id, 120, reason="draw", ref="s", now=NOW)  # lot 150 -> 30
    _earn(session, member, 10, "checkin:1", SOON)
    session.commit()
    assert _lots(session, member.id) == {SOON: 10, LATE: 30}
    # The newer purchase's 30 unspent: 25 of them go back, from its lot; the SOON lot stays.
    ledger.debit(
        session, member.id, 25, reason="refund", ref="r1", now=NOW, reverses_entry_id=newer.id
    )
    session.commit()
    assert _lots(session, member.id) == {SOON: 10, LATE: 5}
    # Its next refund: 50 - 25 reversed already, 5 left in the lot: 5 from it, then SOON.
    ledger.debit(
        session, member.id, 12, reason="refund", ref="r2", now=NOW, reverses_entry_id=newer.id
    )
    session.commit()
    assert _lots(session, member.id) == {SOON: 3, LATE: 0}
    # The older purchase was spent: its refund takes what is left (soonest first), then debt.
    back = ledger.debit(
        session, member.id, 100, reason="refund", ref="r3", now=NOW, reverses_entry_id=older.id
    )
    session.commit()
    assert _lots(session, member.id) == {SOON: 0, LATE: 0}
    assert back.balance_after == -97
    assert ledger_invariants(session, member.id) == -97


def test_a_refund_at_the_till_names_the_purchases_earning(
    session, make_store, make_staff, make_member, scan_for
):
    from app import clock
    from app.services import till

    clock.freeze(NOW)
    store = make_store()
    clerk = make_staff("clerk", store=store)
    member = make_member(store=store)
    _earn(session, member, 40, "gift", SOON)
    session.commit()
    scan_id = scan_for(member, clerk)
    bought = till.record_purchase(session, clerk, scan_id, "T-1", 10_000, now=NOW)
    session.commit()
    ledger.spend(session, member.id, 90, reason="draw", ref="s", now=NOW)  # 40 SOON + 50 of it
    session.commit()
    answer = till.refund_purchase(session, clerk, "T-1", "T-1-r", 5_000, now=NOW)
    session.commit()
    assert (answer["points_reversed"], answer["balance"]) == (50, 0)
    earning = session.execute(
        select(PointEntry.id).where(PointEntry.ref == f"purchase:{bought['purchase_id']}")
    ).scalar_one()
    reversal = session.execute(select(PointEntry).where(PointEntry.reason == "refund")).scalar_one()
    assert reversal.reverses_entry_id == earning
    assert ledger_invariants(session, member.id) == 0
