"""Random check-ins, make-ups, purchases, refunds, lottery draws, adjustments and nights (the
clock moving, the nightly expiry running or not) keep the ledger's invariants.

Every step goes through the real use case on PostgreSQL: checkin.check_in and make_up,
till.record_purchase (after a real scan of the member code) and refund_purchase, lottery.draw,
the nightly points_expiry. A small model tracks what the member should have (lots by expiry,
debt from refunds, the check-in days with their streak and pay); after every step the database
must agree with it: balance = sum of entries = sum of lots (or -debt), no lot past its last day
still counts after the nightly expiry ran, and each check-in day's points_awarded is what the
ledger paid for it.
"""

from __future__ import annotations

import itertools
import os
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
from sqlalchemy import func, literal_column, select

from app import clock
from app.errors import AppError
from app.models.checkin import Checkin
from app.models.points import PointEntry, PointLot
from app.services import checkin, ledger, lottery, programs, till
from app.services.ledger import points_expiry, points_program
from app.services.members import member_code
from app.services.till.scans import scan_member_code
from tests.conftest import ledger_invariants

pytest_plugins = ["tests.engagement_factories"]

START = date(2026, 1, 1)
JOINED = datetime(2025, 6, 1, tzinfo=UTC)
# Rolling expiry, short enough that check-in, purchase and prize points expire within a run.
POINTS_PROGRAM = {
    **points_program.DEFAULTS,
    "expiry": {"mode": "rolling_days", "days": 20, "years": 1},
}


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(4, 0), tzinfo=UTC)  # 12:00 in Beijing


def test_ledger_invariants_hold_under_random_operations(
    app, session, make_member, make_staff, make_lottery
):
    refs = itertools.count()
    admin = make_staff("admin")
    clerk = make_staff("clerk")
    programs.put_config(session, "points", POINTS_PROGRAM, admin)
    program = points_program.config(session)
    rules = checkin.rules(session)
    cost = int(rules["makeup_cost"])
    wheel = make_lottery(
        [
            {"name": "无", "kind": "none", "weight": 50},
            {"name": "8积分", "kind": "points", "points": 8, "weight": 30, "stock_total": 10**6},
            {"name": "40积分", "kind": "points", "points": 40, "weight": 20, "stock_total": 10**6},
        ],
        cost_points=15,
        daily_draw_limit=1000,
        starts_at=datetime(2025, 1, 1, tzinfo=UTC),
        ends_at=datetime(2030, 1, 1, tzinfo=UTC),
    )

    class Ledger(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            session.rollback()  # a failed example may have left its transaction aborted
            self.member = make_member(joined_at=JOINED)
            self.today = START
            self.swept = True  # the nightly expiry ran since the clock last moved
            # Model of the database lots, one per expiry date: [expires_on, remaining, earnings],
            # earnings oldest first, each [tag, part put into the lot, points reversed since].
            self.lots: list[list] = []
            self.debt = 0
            self.purchases: dict[str, dict] = {}  # order_no -> amount, refunded, awarded, ...
            self.days: dict[date, list[int]] = {}  # check-in day -> [streak, points paid]
            self.makeups: dict[str, int] = {}  # month -> make-ups used
            self.minutes = 0
            clock.freeze(_noon(self.today))

        # -- model helpers --
        def _expire(self):
            for lot in self.lots:
                if lot[0] < self.today:
                    lot[1] = 0

        def _spendable(self) -> int:
            self._expire()
            return sum(lot[1] for lot in self.lots) if self.debt == 0 else -1

        def _take(self, amount: int, prefer: str | None = None) -> int:
            """Soonest-expiring first; a refund (`prefer`, the purchase's tag) first takes what
            its earning has unspent in its lot: the lot's remaining belongs to its newest
            earnings (spends take a lot's oldest first), the rule of ledger.rules."""
            taken = 0
            if prefer is not None:
                for lot in self.lots:
                    tags = [earning[0] for earning in lot[2]]
                    if prefer not in tags:
                        continue
                    at = tags.index(prefer)
                    own = lot[2][at]
                    newer = sum(max(0, part - back) for _, part, back in lot[2][at + 1 :])
                    unspent = max(0, min(own[1] - own[2], lot[1] - newer))
                    taken = min(amount, unspent)
                    lot[1] -= taken
                    own[2] += amount
            for lot in sorted(self.lots, key=lambda lot: lot[0]):
                part = min(lot[1], amount - taken)
                lot[1] -= part
                taken += part
            return taken

        def _add(self, amount: int, expires_on: date | None = None, tag: str = ""):
            expires_on = expires_on or points_program.expiry_date(program, self.today)
            repay = min(amount, self.debt)
            self.debt -= repay
            if amount > repay:
                lot = next((lot for lot in self.lots if lot[0] == expires_on), None)
                if lot is None:
                    lot = [expires_on, 0, []]
                    self.lots.append(lot)
                lot[1] += amount - repay
                lot[2].append([tag, amount - repay, 0])

        def _balance(self) -> int:
            return sum(lot[1] for lot in self.lots) - self.debt

        def _snapshot(self):
            return [[day, left, [list(e) for e in earnings]] for day, left, earnings in self.lots]

        def _ref(self, kind: str) -> str:
            return f"{kind}:{self.member.id}:{next(refs)}"

        def _now(self) -> datetime:
            """Noon of the model's day, a few minutes later at each step (a member code scans once,
            so each purchase needs a fresh one)."""
            self.minutes += 3
            now = _noon(self.today) + timedelta(minutes=self.minutes)
            clock.freeze(now)
            return now

        # -- rules --
        @rule(amount=st.integers(1, 500), days=st.integers(0, 40))
        def adjustment(self, amount, days):
            expires_on = self.today + timedelta(days=days)
            ledger.earn(
                session,
                self.member.id,
                amount,
                reason="adjustment",
                ref=self._ref("e"),
                now=self._now(),
                expires_on=expires_on,
            )
            session.commit()
            self._add(amount, expires_on)

        @rule()
        def daily_checkin(self):
            """The real check-in (one statement) while debts and lots come and go."""
            try:
                result = checkin.check_in(session, self.member.id, now=self._now())
                session.commit()  # as the handler does: services flush, the entry point commits
            except AppError as err:
                assert err.code == "checkin.already_done"
                assert self.today in self.days
                session.rollback()
                return
            assert self.today not in self.days
            streak = self.days.get(self.today - timedelta(days=1), [0])[0] + 1
            reward = checkin.reward_for(rules, streak)
            self.days[self.today] = [streak, reward]
            assert (result["streak"], result["points_awarded"]) == (streak, reward)
            self._add(reward)
            assert result["balance"] == self._balance()

        @rule(back=st.integers(1, 9))
        def makeup(self, back):
            """The real make-up: its cost, its day's reward, the re-pricing of the days after."""
            day = self.today - timedelta(days=back)
            month = self.today.strftime("%Y-%m")
            before = self._snapshot()
            if back > int(rules["makeup_window_days"]):
                expected = "checkin.makeup_out_of_window"
            elif day in self.days:
                expected = "checkin.already_done"
            elif self.makeups.get(month, 0) >= int(rules["makeup_monthly_cap"]):
                expected = "checkin.makeup_limit_reached"
            elif self._spendable() < cost:
                expected = "points.insufficient"
            else:
                expected = None
            try:
                result = checkin.make_up(session, self.member.id, day, now=self._now())
                session.commit()
            except AppError as err:
                session.rollback()
                assert err.code == expected
                self.lots = before  # the refused transaction rolled back its lazy expiry too
                return
            assert expected is None
            self.makeups[month] = self.makeups.get(month, 0) + 1
            self._take(cost)
            streak = self.days.get(day - timedelta(days=1), [0])[0] + 1
            reward = checkin.reward_for(rules, streak)
            self.days[day] = [streak, reward]
            self._add(reward)
            following, running = day + timedelta(days=1), streak
            while following in self.days and following <= self.today:
                running += 1
                owed = checkin.reward_for(rules, running) - self.days[following][1]
                self.days[following] = [running, self.days[following][1] + max(owed, 0)]
                if owed > 0:
                    self._add(owed)
                following += timedelta(days=1)
            assert (result["streak"], result["points_awarded"]) == (streak, reward)
            assert result["balance"] == self._balance()

        @rule(amount_fen=st.integers(100, 40_000))
        def purchase(self, amount_fen):
            now = self._now()
            order_no = f"O{next(refs)}"
            code = member_code.current_code(app.config["SECRET_KEY"], self.member.id, now)
            scan_id = scan_member_code(session, clerk, code.code, now)[0].id
            result = till.record_purchase(session, clerk, scan_id, order_no, amount_fen, now=now)
            session.commit()
            awarded = result["points_awarded"]
            tag = f"purchase:{result['purchase_id']}"
            if awarded:
                self._add(awarded, tag=tag)
            self.purchases[order_no] = {
                "amount": amount_fen,
                "refunded": 0,
                "awarded": awarded,
                "reversed": 0,
                "tag": tag,
            }
            assert result["balance"] == self._balance()

        @precondition(
            lambda self: any(p["refunded"] < p["amount"] for p in self.purchases.values())
        )
        @rule(data=st.data())
        def refund(self, data):
            open_ones = sorted(o for o, p in self.purchases.items() if p["refunded"] < p["amount"])
            order_no = data.draw(st.sampled_from(open_ones))
            p = self.purchases[order_no]
            amount = data.draw(st.integers(1, p["amount"] - p["refunded"]))
            result = till.refund_purchase(
                session, clerk, order_no, f"R{next(refs)}", amount, now=self._now()
            )
            session.commit()
            p["refunded"] += amount
            target = p["awarded"] * p["refunded"] // p["amount"]
            assert result["points_reversed"] == target - p["reversed"]
            reversed_now, p["reversed"] = target - p["reversed"], target
            if reversed_now > 0:  # the ledger's debit expires what is due first
                self._expire()
                self.debt += reversed_now - self._take(reversed_now, prefer=p["tag"])
            assert result["balance"] == self._balance()

        @rule()
        def draw(self):
            before = self._snapshot()
            enough = self._spendable() >= wheel.cost_points
            try:
                result = lottery.draw(session, self.member.id, wheel.id, now=self._now())
                session.commit()
            except AppError as err:
                session.rollback()
                assert err.code == "points.insufficient" and not enough
                self.lots = before
                return
            assert enough
            self._take(wheel.cost_points)
            if result["prize"] is not None:
                self._add(result["prize"]["points"])
            assert result["points_spent"] == wheel.cost_points

        @rule(days=st.integers(1, 12), job_ran=st.booleans())
        def night(self, days, job_ran):
            """Time passes; the nightly expiry runs at 00:05 (or the scheduler was down, and the
            next spend or refund expires what is due)."""
            self.today += timedelta(days=days)
            if job_ran:
                now = _noon(self.today) - timedelta(hours=11, minutes=55)
                clock.freeze(now)
                points_expiry.expire_due_lots(session, self.today, now)
                self._expire()
            self.swept = job_ran
            self.minutes = 0
            self._now()

        @invariant()
        def ledger_agrees_with_the_model(self):
            balance = ledger_invariants(session, self.member.id)
            assert balance == self._balance()
            # One lot per expiry date, each holding what the model says (refunds included).
            lots = dict(
                session.execute(
                    select(PointLot.expires_on, PointLot.remaining).where(
                        PointLot.member_id == self.member.id, PointLot.remaining > 0
                    )
                ).all()
            )
            assert lots == {day: left for day, left, _ in self.lots if left > 0}
            if self.swept:  # what counts is only what has not expired
                past_due = session.scalar(
                    select(func.coalesce(func.sum(PointLot.remaining), 0)).where(
                        PointLot.member_id == self.member.id, PointLot.expires_on < self.today
                    )
                )
                assert past_due == 0

        @invariant()
        def each_day_is_paid_what_the_calendar_says(self):
            days = {
                row.day: [row.streak, row.points_awarded]
                for row in session.execute(
                    select(Checkin.day, Checkin.streak, Checkin.points_awarded).where(
                        Checkin.member_id == self.member.id
                    )
                )
            }
            assert days == self.days
            # checkin:<member>:<day>, and checkin:<member>:<day>:repriced-by:<made-up day>
            day = func.split_part(PointEntry.ref, literal_column("':'"), literal_column("3"))
            paid = dict(
                session.execute(
                    select(day, func.sum(PointEntry.delta))
                    .where(
                        PointEntry.member_id == self.member.id,
                        PointEntry.ref.like(f"checkin:{self.member.id}:%"),
                    )
                    .group_by(day)
                ).all()
            )
            assert paid == {d.isoformat(): p for d, (_, p) in self.days.items() if p > 0}
            session.rollback()

    Ledger.TestCase.settings = settings(
        max_examples=int(os.environ.get("LEDGER_EXAMPLES", "40")),
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    run_state_machine_as_test(Ledger, settings=Ledger.TestCase.settings)
