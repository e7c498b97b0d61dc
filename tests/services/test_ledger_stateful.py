"""Random earns, spends, purchases, refunds, check-ins, make-ups and expiries keep the ledger's
invariants.

A small model tracks what the member should have (lots by expiry, debt from refunds); after every
step the database must agree with it, and balance = sum of entries = lots (or -debt).
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from app import clock
from app.errors import AppError
from app.services import checkin, ledger
from app.services.ledger import points_expiry, points_program
from tests.conftest import ledger_invariants

START = date(2026, 1, 1)


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(4, 0), tzinfo=UTC)  # 12:00 in Beijing


def test_ledger_invariants_hold_under_random_operations(app, session, make_member):
    refs = itertools.count()

    class Ledger(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.member = make_member()
            self.today = START
            self.lots: list[list] = []  # [expires_on, remaining], model of the database lots
            self.debt = 0
            self.purchases: list[list[int]] = []  # [awarded, reversed]
            self.streaks: dict[date, int] = {}  # the days checked in, with their streak

        # -- model helpers --
        def _expire(self):
            for lot in self.lots:
                if lot[0] < self.today:
                    lot[1] = 0

        def _spendable(self) -> int:
            self._expire()
            return sum(lot[1] for lot in self.lots) if self.debt == 0 else -1

        def _take(self, amount: int) -> int:
            taken = 0
            for lot in sorted(self.lots, key=lambda lot: lot[0]):
                part = min(lot[1], amount - taken)
                lot[1] -= part
                taken += part
            return taken

        def _add(self, amount: int, expires_on: date):
            repay = min(amount, self.debt)
            self.debt -= repay
            if amount > repay:
                self.lots.append([expires_on, amount - repay])

        def _ref(self, kind: str) -> str:
            return f"{kind}:{self.member.id}:{next(refs)}"

        # -- rules --
        @rule(amount=st.integers(1, 500), days=st.integers(0, 40))
        def earn(self, amount, days):
            expires_on = self.today + timedelta(days=days)
            ledger.earn(
                session,
                self.member.id,
                amount,
                reason="adjustment",
                ref=self._ref("e"),
                now=_noon(self.today),
                expires_on=expires_on,
            )
            session.commit()
            self._add(amount, expires_on)

        def _snapshot(self):
            return [list(lot) for lot in self.lots]

        @rule(amount=st.integers(1, 600))
        def spend(self, amount):
            before = self._snapshot()
            expected_ok = self._spendable() >= amount
            try:
                ledger.spend(
                    session,
                    self.member.id,
                    amount,
                    reason="draw",
                    ref=self._ref("s"),
                    now=_noon(self.today),
                )
                session.commit()
                ok = True
            except AppError as err:
                assert err.code == "points.insufficient"
                session.rollback()
                ok = False
            assert ok == expected_ok
            if ok:
                self._take(amount)
            else:  # the refused transaction rolled back its lazy expiry too
                self.lots = before

        @rule(amount=st.integers(1, 400), days=st.integers(1, 60))
        def purchase(self, amount, days):
            expires_on = self.today + timedelta(days=days)
            ledger.earn(
                session,
                self.member.id,
                amount,
                reason="purchase",
                ref=self._ref("p"),
                now=_noon(self.today),
                expires_on=expires_on,
            )
            session.commit()
            self._add(amount, expires_on)
            self.purchases.append([amount, 0])

        @precondition(lambda self: any(p[1] < p[0] for p in self.purchases))
        @rule(data=st.data())
        def refund(self, data):
            open_ones = [p for p in self.purchases if p[1] < p[0]]
            purchase = data.draw(st.sampled_from(open_ones))
            amount = data.draw(st.integers(1, purchase[0] - purchase[1]))
            ledger.debit(
                session,
                self.member.id,
                amount,
                reason="refund",
                ref=self._ref("r"),
                now=_noon(self.today),
            )
            session.commit()
            self._expire()
            taken = self._take(amount)
            self.debt += amount - taken
            purchase[1] += amount

        @rule(next_day=st.booleans())
        def daily_checkin(self, next_day):
            """The real check-in (one statement on PostgreSQL) while debts and lots come and go."""
            if next_day:
                self.today += timedelta(days=1)
            clock.freeze(_noon(self.today))
            try:
                result = checkin.check_in(session, self.member.id, now=_noon(self.today))
            except AppError as err:
                assert err.code == "checkin.already_done"
                assert self.today in self.streaks
                session.rollback()
                return
            assert self.today not in self.streaks
            streak = self.streaks.get(self.today - timedelta(days=1), 0) + 1
            self.streaks[self.today] = streak
            reward = checkin.reward_for(checkin.rules(session), streak)
            assert (result["streak"], result["points_awarded"]) == (streak, reward)
            expires_on = points_program.expiry_date(points_program.config(session), self.today)
            self._add(reward, expires_on)
            assert result["balance"] == sum(lot[1] for lot in self.lots) - self.debt

        @rule(cost=st.integers(1, 50), reward=st.integers(1, 30))
        def makeup(self, cost, reward):
            before = self._snapshot()
            expected_ok = self._spendable() >= cost
            try:
                ledger.spend(
                    session,
                    self.member.id,
                    cost,
                    reason="makeup",
                    ref=self._ref("m"),
                    now=_noon(self.today),
                )
                ledger.earn(
                    session,
                    self.member.id,
                    reward,
                    reason="checkin",
                    ref=self._ref("c"),
                    now=_noon(self.today),
                    expires_on=self.today + timedelta(days=30),
                )
                session.commit()
                ok = True
            except AppError:
                session.rollback()
                ok = False
            assert ok == expected_ok
            if ok:
                self._take(cost)
                self._add(reward, self.today + timedelta(days=30))
            else:
                self.lots = before

        @rule(days=st.integers(1, 20))
        def nightly_expiry(self, days):
            self.today += timedelta(days=days)
            clock.freeze(_noon(self.today))
            points_expiry.expire_due_lots(session, self.today, _noon(self.today))
            self._expire()

        @invariant()
        def ledger_agrees_with_the_model(self):
            balance = ledger_invariants(session, self.member.id)
            assert balance == sum(lot[1] for lot in self.lots) - self.debt

    Ledger.TestCase.settings = settings(
        max_examples=40,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    run_state_machine_as_test(Ledger, settings=Ledger.TestCase.settings)
