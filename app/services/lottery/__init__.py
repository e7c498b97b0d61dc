"""The points lottery: a member pays points to draw; the generator picks a slot by weight.

A draw is one transaction (the caller's, which commits it): the daily draw allowance, the cost
(through the ledger), the prize's stock and daily release, and the prize itself commit together
or not at all. The draw tells the truth (issue 16): a prize that is gone (no stock left, today's
release given, over the points budget) leaves the odds, and the draw is among the prizes left
and the no-prize weight; a lottery with nothing left to win is 409 lottery.nothing_left before
it charges. A prize that went between the draw's first statement and its taking (a concurrent
draw took the last one) is drawn again among what is left, so a draw never pays for a prize it
then cannot give; when nothing is left then, the whole draw is refused and rolled back. Every
draw is kept with what was picked and what was awarded.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import Date, and_, bindparam, select, text, update
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models.base import UTCDateTime, insert_ignore
from app.models.lottery import (
    Lottery,
    LotteryDraw,
    LotteryDrawAllowance,
    LotteryPrize,
    PrizeDailyRelease,
)
from app.services import ledger
from app.services.coupons import issue_coupon
from app.services.staff import audit, require_store
from app.services.till.scans import resolve_scan


def pick_slot(weights: Sequence[int], randbelow: Callable[[int], int] = secrets.randbelow) -> int:
    """The index of the slot drawn with probability weight / total (-1 if all weights are 0).
    Uses the `secrets` generator: draws cannot be predicted from earlier ones."""
    total = sum(weights)
    if total <= 0:
        return -1
    ticket = randbelow(total)
    for index, weight in enumerate(weights):
        if ticket < weight:
            return index
        ticket -= weight
    raise AssertionError("unreachable")


def get_lottery(session: Session, lottery_id: int) -> Lottery:
    lottery = session.get(Lottery, lottery_id)
    if lottery is None:
        raise AppError("lottery.not_found")
    return lottery


def is_open(lottery: Lottery, now: datetime) -> bool:
    return lottery.is_active and lottery.starts_at <= now < lottery.ends_at


def lottery_status(lottery: Lottery, now: datetime) -> str:
    """What the console calls a lottery now: `closed` (switched off), `upcoming`, `ended`, else
    `open`."""
    if not lottery.is_active:
        return "closed"
    if now < lottery.starts_at:
        return "upcoming"
    if now >= lottery.ends_at:
        return "ended"
    return "open"


def active_prizes(session: Session, lottery_id: int) -> list[LotteryPrize]:
    return list(
        session.execute(
            select(LotteryPrize)
            .where(LotteryPrize.lottery_id == lottery_id, LotteryPrize.is_active.is_(True))
            .order_by(LotteryPrize.id)
        ).scalars()
    )


# The draw's opening statement: the lottery and its active prizes as of now, and -- only if it is
# open, has a prize with weight and the member is under today's limit -- one more draw counted
# today and the new draw's id (taken from its sequence: the draw row is written last, with what
# it won). One row per active prize (one row with NULL prize columns when it has none); no row
# when the lottery does not exist. The allowance's ON CONFLICT re-reads the member's row for
# today under its lock, so the daily limit holds under concurrent taps.
# Whether a prize (p, its lottery l, today's release r) can still be won: the no-prize slot
# always; any other while it has stock, today's release is under its daily cap and a points
# prize fits the lottery's points budget.
_AVAILABLE = """(p.kind = 'none' OR (p.won < p.stock_total
        AND (p.daily_cap IS NULL OR COALESCE(r.released, 0) < p.daily_cap)
        AND (p.kind <> 'points' OR l.points_budget IS NULL
             OR l.points_given + p.points <= l.points_budget)))"""

_OPEN_DRAW = text(
    f"""
    WITH lottery AS MATERIALIZED (
        SELECT id, name, cost_points, daily_draw_limit, points_budget,
               is_active AND starts_at <= :now AND :now < ends_at AS open
        FROM lotteries WHERE id = :lottery_id
    ), prizes AS MATERIALIZED (
        SELECT p.id, p.name, p.kind, p.weight, p.points, p.coupon_template_id, p.daily_cap,
               {_AVAILABLE} AS available
        FROM lottery_prizes p
        JOIN lotteries l ON l.id = p.lottery_id
        LEFT JOIN prize_daily_releases r ON r.prize_id = p.id AND r.day = :day
        WHERE p.lottery_id = :lottery_id AND p.is_active
    ), allowance AS (
        INSERT INTO lottery_draw_allowances AS a (lottery_id, member_id, day, used)
        SELECT id, :member_id, :day, 1 FROM lottery
        WHERE open
          AND EXISTS (SELECT 1 FROM prizes WHERE weight > 0 AND available AND kind <> 'none')
        ON CONFLICT (lottery_id, member_id, day) DO UPDATE SET used = a.used + 1
        WHERE a.used < (SELECT daily_draw_limit FROM lottery)
        RETURNING nextval('lottery_draws_id_seq') AS draw_id
    )
    SELECT lottery.id, lottery.name, lottery.cost_points, lottery.daily_draw_limit,
           lottery.points_budget, lottery.open, allowance.draw_id,
           prizes.id AS prize_id, prizes.name AS prize_name, prizes.kind, prizes.weight,
           prizes.points, prizes.coupon_template_id, prizes.daily_cap, prizes.available
    FROM lottery LEFT JOIN allowance ON true LEFT JOIN prizes ON true
    ORDER BY prizes.id
    """
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("day", type_=Date()))

_DRAW_COLUMNS = (
    "id, lottery_id, member_id, day, points_spent, picked_prize_id, prize_id, outcome,"
    " coupon_id, points_won, created_at"
)
# Typed: the same values serve an INSERT ... VALUES and an INSERT ... SELECT (where an untyped
# NULL would be text).
_DRAW_VALUES = (
    "CAST(:draw_id AS bigint), CAST(:lottery_id AS bigint), CAST(:member_id AS bigint), :day,"
    " CAST(:points_spent AS integer), CAST(:picked_prize_id AS bigint), {prize_id}, {outcome},"
    " CAST(:coupon_id AS bigint), {points_won}, :now"
)
_DRAW_TYPES = (bindparam("now", type_=UTCDateTime()), bindparam("day", type_=Date()))

# The draw as it ended (no prize, or a prize whose fate the slow path decided).
_RECORD_DRAW = text(
    f"INSERT INTO lottery_draws ({_DRAW_COLUMNS}) VALUES "
    + "("
    + _DRAW_VALUES.format(
        prize_id="CAST(:prize_id AS bigint)",
        outcome="CAST(:outcome AS varchar)",
        points_won="CAST(:points_won AS integer)",
    )
    + ")"
).bindparams(*_DRAW_TYPES)

# The common prize (no daily cap, no points budget, not a coupon): take one from its stock and
# record the draw with what it won in one statement, the draw's last before the answer, so the
# prize's row -- the flash's hot row -- stays locked only from here to the commit. Sold out since
# the draw's first statement, the conditional update matches nothing and locks nothing, and
# nothing is recorded: the draw is made again among what is left.
_TAKE_AND_RECORD = text(
    f"""
    WITH took AS (
        UPDATE lottery_prizes SET won = won + 1
        WHERE id = :picked_prize_id AND won < stock_total
        RETURNING id
    )
    INSERT INTO lottery_draws ({_DRAW_COLUMNS})
    SELECT {
        _DRAW_VALUES.format(
            prize_id="took.id",
            outcome="CASE WHEN took.id IS NULL THEN 'out_of_stock' ELSE 'won' END",
            points_won="CASE WHEN took.id IS NULL THEN 0 ELSE CAST(:points AS integer) END",
        )
    }
    FROM took
    RETURNING prize_id
    """
).bindparams(*_DRAW_TYPES)


class _Prize(NamedTuple):
    """An active prize of the lottery as the draw read it."""

    id: int
    name: str
    kind: str
    weight: int
    points: int
    coupon_template_id: int | None
    daily_cap: int | None
    available: bool


def _open_draw(session: Session, member_id: int, lottery_id: int, day: date, now: datetime):
    """Check the lottery is open and count the draw against the member's daily limit, in one
    statement; (the lottery's row, its active prizes by id, the new draw's id)."""
    rows = session.execute(
        _OPEN_DRAW, {"lottery_id": lottery_id, "member_id": member_id, "day": day, "now": now}
    ).all()
    if not rows:
        raise AppError("lottery.not_found")
    lottery = rows[0]
    prizes = [
        _Prize(
            r.prize_id,
            r.prize_name,
            r.kind,
            r.weight,
            r.points or 0,
            r.coupon_template_id,
            r.daily_cap,
            r.available,
        )
        for r in rows
        if r.prize_id is not None
    ]
    if not lottery.open:
        raise AppError("lottery.not_active")
    if not any(p.available and p.weight > 0 and p.kind != "none" for p in prizes):
        # Nothing left to win: said before the member's points are taken.
        raise AppError("lottery.nothing_left")
    if lottery.draw_id is None:
        wait = int((clock.business_day_end(day) - now).total_seconds()) + 1
        raise AppError(
            "lottery.daily_limit",
            message=f"At most {lottery.daily_draw_limit} draws a day in this lottery.",
            details={"daily_draw_limit": lottery.daily_draw_limit},
            headers={"Retry-After": str(max(wait, 1))},
        )
    return lottery, prizes, lottery.draw_id


def draw(session: Session, member_id: int, lottery_id: int, now: datetime | None = None) -> dict:
    """Draw once: within the lottery's window and the member's daily limit, paying its cost in
    points (409 points.insufficient); the prize is drawn by weight among the prizes still there
    and the no-prize slot, and awarded (409 lottery.nothing_left when nothing is left to win)."""
    now = now or clock.now()
    day = clock.business_date(now)
    lottery, prizes, draw_id = _open_draw(session, member_id, lottery_id, day, now)
    balance = None
    if lottery.cost_points > 0:
        balance = ledger.spend(
            session,
            member_id,
            lottery.cost_points,
            reason="lottery",
            ref=f"lottery:{draw_id}",
            now=now,
            note=lottery.name[:200],
        ).balance_after
    record = {
        "draw_id": draw_id,
        "lottery_id": lottery.id,
        "member_id": member_id,
        "day": day,
        "points_spent": lottery.cost_points,
        "coupon_id": None,
        "now": now,
    }
    prize, outcome = _draw_among_left(session, lottery, prizes, record, day, now)
    if prize is not None and prize["kind"] == "points":
        balance = prize.pop("balance")
    if balance is None:  # a free draw that won no points: the balance did not move
        balance = ledger.balance_of(session, member_id)
    return {
        "draw_id": draw_id,
        "prize": prize,
        "points_spent": lottery.cost_points,
        "balance": balance,
        "outcome": outcome,
    }


def _draw_among_left(session, lottery, prizes: list[_Prize], record: dict, day: date, now):
    """Pick by weight among the prizes left and award the pick; a pick that went since the
    draw's first statement leaves the odds and the draw is made again among the rest. (the
    prize's answer or None, the draw's outcome)"""
    weights = [p.weight if p.available else 0 for p in prizes]
    while True:
        index = pick_slot(weights)
        if index < 0:  # the last prizes went meanwhile, and there is no no-prize slot
            raise AppError("lottery.nothing_left")
        picked = prizes[index]
        awarded = _award(
            session, lottery, picked, {**record, "picked_prize_id": picked.id}, day, now
        )
        if awarded is not None:
            return awarded
        weights[index] = 0


def _award(session, lottery, prize: _Prize, record: dict, day: date, now):
    """Take the picked prize for this draw if it is still there and record the draw; (the
    prize's answer or None, the draw's outcome), or None when the prize is gone (nothing
    recorded, nothing held)."""
    if prize.kind == "none":
        return None, _record(session, record, None, "no_prize")
    if (
        prize.daily_cap is None
        and prize.kind != "coupon"
        and (prize.kind != "points" or lottery.points_budget is None)
    ):
        took = session.execute(
            _TAKE_AND_RECORD, {**record, "points": prize.points if prize.kind == "points" else 0}
        ).scalar_one_or_none()
        if took is None:
            return None
        answer = {"id": prize.id, "name": prize.name, "kind": prize.kind}
        if prize.kind == "points":
            answer.update(points=prize.points, balance=_earn_prize(session, prize, record, now))
        return answer, "won"
    # A prize with a daily release, a points budget or a coupon: each step may refuse it, and a
    # refusal gives back what the steps before it took.
    if prize.daily_cap is not None and not _take_daily(session, prize, day):
        return None
    took = session.execute(
        update(LotteryPrize)
        .where(LotteryPrize.id == prize.id, LotteryPrize.won < LotteryPrize.stock_total)
        .values(won=LotteryPrize.won + 1)
        .returning(LotteryPrize.id)
    ).scalar_one_or_none()
    if took is None:
        _give_back(session, prize, day, stock=False)
        return None
    answer = {"id": prize.id, "name": prize.name, "kind": prize.kind}
    points_won = 0
    if prize.kind == "points":
        if lottery.points_budget is not None and not _within_budget(session, lottery, prize):
            _give_back(session, prize, day, stock=True)
            return None
        answer.update(points=prize.points, balance=_earn_prize(session, prize, record, now))
        points_won = prize.points
    elif prize.kind == "coupon":
        try:
            coupon = issue_coupon(
                session,
                prize.coupon_template_id,
                record["member_id"],
                source="lottery",
                ref=f"lottery:{record['draw_id']}",
                now=now,
            )
        except AppError:
            _give_back(session, prize, day, stock=True)
            return None
        record = {**record, "coupon_id": coupon.id}
        answer["coupon"] = coupon
    return answer, _record(session, record, prize.id, "won", points_won)


def _record(session, record: dict, prize_id, outcome: str, points_won: int = 0) -> str:
    """Write the draw as it ended; its outcome."""
    session.execute(
        _RECORD_DRAW,
        {**record, "prize_id": prize_id, "outcome": outcome, "points_won": points_won},
    )
    return outcome


def _earn_prize(session, prize: _Prize, record: dict, now) -> int:
    """Pay a points prize through the ledger; the balance after."""
    return ledger.earn(
        session,
        record["member_id"],
        prize.points,
        reason="lottery_prize",
        ref=f"lottery-prize:{record['draw_id']}",
        now=now,
    ).balance_after


def _within_budget(session: Session, lottery, prize: _Prize) -> bool:
    """Count the prize's points against the lottery's budget unless that would exceed it.
    (Without a budget the lottery row is not touched, so it is not a hot row in a flash; the
    points given are then counted from the draws when a budget is set.)"""
    return (
        session.execute(
            update(Lottery)
            .where(
                Lottery.id == lottery.id,
                Lottery.points_given + prize.points <= Lottery.points_budget,
            )
            .values(points_given=Lottery.points_given + prize.points)
            .returning(Lottery.id)
        ).scalar_one_or_none()
        is not None
    )


def _take_daily(session: Session, prize: _Prize, day: date) -> bool:
    insert_ignore(
        session,
        PrizeDailyRelease,
        {"prize_id": prize.id, "day": day, "released": 0},
        "prize_id",
        "day",
    )
    return (
        session.execute(
            update(PrizeDailyRelease)
            .where(
                PrizeDailyRelease.prize_id == prize.id,
                PrizeDailyRelease.day == day,
                PrizeDailyRelease.released < prize.daily_cap,
            )
            .values(released=PrizeDailyRelease.released + 1)
            .returning(PrizeDailyRelease.id)
        ).scalar_one_or_none()
        is not None
    )


def _give_back(session: Session, prize: _Prize, day: date, stock: bool) -> None:
    """Undo this draw's hold on the prize (its daily release, and its stock when taken)."""
    if prize.daily_cap is not None:
        session.execute(
            update(PrizeDailyRelease)
            .where(and_(PrizeDailyRelease.prize_id == prize.id, PrizeDailyRelease.day == day))
            .values(released=PrizeDailyRelease.released - 1)
        )
    if stock:
        session.execute(
            update(LotteryPrize).where(LotteryPrize.id == prize.id).values(won=LotteryPrize.won - 1)
        )


def open_lotteries(session: Session, member_id: int, now=None) -> list[dict]:
    """Lotteries open now, their prizes (the no-prize slot is not shown) with whether each can
    still be won (`available`: stock left, today's release and the budget not reached: the rule
    of the draw), whether anything is left to win, and draws left today."""
    now = now or clock.now()
    day = clock.business_date(now)
    rows = session.execute(
        select(Lottery, LotteryDrawAllowance.used)
        .outerjoin(
            LotteryDrawAllowance,
            and_(
                LotteryDrawAllowance.lottery_id == Lottery.id,
                LotteryDrawAllowance.member_id == member_id,
                LotteryDrawAllowance.day == day,
            ),
        )
        .where(Lottery.is_active.is_(True), Lottery.starts_at <= now, Lottery.ends_at > now)
        .order_by(Lottery.id)
    ).all()
    available = _availability(session, [lottery.id for lottery, _ in rows], day)
    answers = []
    for lottery, used in rows:
        prizes = [
            {
                "id": p.id,
                "name": p.name,
                "kind": p.kind,
                "points": p.points or None,
                "available": available.get(p.id, False),
            }
            for p in active_prizes(session, lottery.id)
            if p.kind != "none"
        ]
        answers.append(
            {
                "id": lottery.id,
                "name": lottery.name,
                "cost_points": lottery.cost_points,
                "starts_at": lottery.starts_at,
                "ends_at": lottery.ends_at,
                "daily_draw_limit": lottery.daily_draw_limit,
                "draws_left_today": max(0, lottery.daily_draw_limit - (used or 0)),
                "prizes": prizes,
                "nothing_left": not any(
                    p["available"] and available.get(("weight", p["id"])) for p in prizes
                ),
            }
        )
    return answers


_AVAILABILITY = text(
    f"""
    SELECT p.id, p.weight > 0 AS weighted, {_AVAILABLE} AS available
    FROM lottery_prizes p
    JOIN lotteries l ON l.id = p.lottery_id
    LEFT JOIN prize_daily_releases r ON r.prize_id = p.id AND r.day = :day
    WHERE p.lottery_id = ANY(:ids) AND p.is_active
    """
).bindparams(bindparam("day", type_=Date()))


def _availability(session: Session, lottery_ids: list[int], day: date) -> dict:
    """Per active prize of these lotteries: whether it can be won today (by its id), and
    whether it has a weight (by ("weight", id))."""
    if not lottery_ids:
        return {}
    found: dict = {}
    for row in session.execute(_AVAILABILITY, {"ids": lottery_ids, "day": day}):
        found[row.id] = bool(row.available)
        found[("weight", row.id)] = bool(row.weighted)
    return found


def fulfil_physical_prize(session: Session, staff, scan_id: str, draw_id: int, now=None) -> dict:
    """Hand over a physical prize at a store to the scanned member who won it; once only
    (409 lottery.already_fulfilled)."""

    now = now or clock.now()
    store_id = require_store(staff)
    scan = resolve_scan(session, scan_id, staff, now)
    record = session.get(LotteryDraw, draw_id)
    prize = session.get(LotteryPrize, record.prize_id) if record and record.prize_id else None
    if record is None or record.member_id != scan.member_id or prize is None:
        raise AppError("lottery.win_not_found")
    if prize.kind != "physical":
        raise AppError("lottery.win_not_found", message="No physical prize on this draw.")
    done = session.execute(
        update(LotteryDraw)
        .where(LotteryDraw.id == draw_id, LotteryDraw.fulfilled_at.is_(None))
        .values(fulfilled_at=now, fulfilled_store_id=store_id, fulfilled_by=staff.id)
        .returning(LotteryDraw.id)
    ).scalar_one_or_none()
    if done is None:
        raise AppError("lottery.already_fulfilled")
    audit.record(session, staff, "lottery.fulfil", "lottery_draw", draw_id, {"prize": prize.name})
    return {"draw_id": draw_id, "prize": prize.name, "fulfilled_at": now, "store_id": store_id}
