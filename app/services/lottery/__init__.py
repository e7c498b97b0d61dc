"""The points lottery: a member pays points to draw; the generator picks a slot by weight.

A draw is one transaction (the caller's, which commits it): the daily draw allowance, the cost
(through the ledger), the prize's stock and daily release, and the prize itself commit together
or not at all. A picked prize that is out of stock, over today's release or over the points
budget gives no prize: never an error, never an oversell. Every draw is kept with what was
picked and what was awarded.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import date, datetime

from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models import Member
from app.models.base import insert_ignore
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


def active_prizes(session: Session, lottery_id: int) -> list[LotteryPrize]:
    return list(
        session.execute(
            select(LotteryPrize)
            .where(LotteryPrize.lottery_id == lottery_id, LotteryPrize.is_active.is_(True))
            .order_by(LotteryPrize.id)
        ).scalars()
    )


def _use_allowance(session: Session, lottery: Lottery, member_id: int, day: date, now) -> None:
    """Count one more draw today unless the member reached the daily limit (429)."""
    upsert = (
        insert(LotteryDrawAllowance)
        .values(lottery_id=lottery.id, member_id=member_id, day=day, used=1)
        .on_conflict_do_update(
            index_elements=["lottery_id", "member_id", "day"],
            set_={"used": LotteryDrawAllowance.used + 1},
            where=LotteryDrawAllowance.used < lottery.daily_draw_limit,
        )
        .returning(LotteryDrawAllowance.used)
    )
    if session.execute(upsert).scalar_one_or_none() is None:
        wait = int((clock.business_day_end(day) - now).total_seconds()) + 1
        raise AppError(
            "lottery.daily_limit",
            message=f"At most {lottery.daily_draw_limit} draws a day in this lottery.",
            details={"daily_draw_limit": lottery.daily_draw_limit},
            headers={"Retry-After": str(max(wait, 1))},
        )


def draw(session: Session, member_id: int, lottery_id: int, now: datetime | None = None) -> dict:
    """Draw once: within the lottery's window and the member's daily limit, paying its cost in
    points (409 points.insufficient); the prize drawn by weight is awarded if it is still
    available, otherwise no prize."""
    now = now or clock.now()
    lottery = get_lottery(session, lottery_id)
    if not is_open(lottery, now):
        raise AppError("lottery.not_active")
    prizes = active_prizes(session, lottery.id)
    if sum(p.weight for p in prizes) <= 0:  # nothing to draw: do not take the member's points
        raise AppError("lottery.not_active", message="This lottery has no prizes to draw.")
    day = clock.business_date(now)
    _use_allowance(session, lottery, member_id, day, now)
    record = LotteryDraw(
        lottery_id=lottery.id,
        member_id=member_id,
        day=day,
        points_spent=lottery.cost_points,
        outcome="pending",
        points_won=0,
        created_at=now,
    )
    session.add(record)
    session.flush()
    balance = None
    if lottery.cost_points > 0:
        balance = ledger.spend(
            session,
            member_id,
            lottery.cost_points,
            reason="lottery",
            ref=f"lottery:{record.id}",
            now=now,
            note=lottery.name[:200],
        ).balance_after
    index = pick_slot([p.weight for p in prizes])
    picked = prizes[index] if index >= 0 else None
    record.picked_prize_id = picked.id if picked else None
    prize = _award(session, lottery, picked, record, day, now)
    if prize is not None and prize["kind"] == "points":
        balance = prize.pop("balance")
    if balance is None:  # a free draw that won no points: the balance did not move
        balance = session.scalar(select(Member.points_balance).where(Member.id == member_id))
    answer = {
        "draw_id": record.id,
        "prize": prize,
        "points_spent": lottery.cost_points,
        "balance": balance,
        "outcome": record.outcome,
    }
    return answer


def _award(session, lottery: Lottery, prize, record: LotteryDraw, day: date, now):
    """Take the picked prize for this draw if it is still there; the prize's answer or None."""
    if prize is None or prize.kind == "none":
        record.outcome = "no_prize"
        return None
    if prize.daily_cap is not None and not _take_daily(session, prize, day):
        record.outcome = "daily_cap"
        return None
    took = session.execute(
        update(LotteryPrize)
        .where(LotteryPrize.id == prize.id, LotteryPrize.won < LotteryPrize.stock_total)
        .values(won=LotteryPrize.won + 1)
        .returning(LotteryPrize.id)
    ).scalar_one_or_none()
    if took is None:
        _give_back(session, prize, day, stock=False)
        record.outcome = "out_of_stock"
        return None
    answer = {"id": prize.id, "name": prize.name, "kind": prize.kind}
    if prize.kind == "points":
        if lottery.points_budget is not None and not _within_budget(session, lottery, prize):
            _give_back(session, prize, day, stock=True)
            record.outcome = "budget"
            return None
        entry = ledger.earn(
            session,
            record.member_id,
            prize.points,
            reason="lottery_prize",
            ref=f"lottery-prize:{record.id}",
            now=now,
        )
        record.points_won = prize.points
        answer.update(points=prize.points, balance=entry.balance_after)
    elif prize.kind == "coupon":
        try:
            coupon = issue_coupon(
                session,
                prize.coupon_template_id,
                record.member_id,
                source="lottery",
                ref=f"lottery:{record.id}",
                now=now,
            )
        except AppError:
            _give_back(session, prize, day, stock=True)
            record.outcome = "coupon_refused"
            return None
        record.coupon_id = coupon.id
        answer["coupon"] = coupon
    record.prize_id = prize.id
    record.outcome = "won"
    return answer


def _within_budget(session: Session, lottery: Lottery, prize: LotteryPrize) -> bool:
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


def _take_daily(session: Session, prize: LotteryPrize, day: date) -> bool:
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


def _give_back(session: Session, prize: LotteryPrize, day: date, stock: bool) -> None:
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
    """Lotteries open now, their prizes (the no-prize slot is not shown) and draws left today."""
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
    return [
        {
            "id": lottery.id,
            "name": lottery.name,
            "cost_points": lottery.cost_points,
            "starts_at": lottery.starts_at,
            "ends_at": lottery.ends_at,
            "daily_draw_limit": lottery.daily_draw_limit,
            "draws_left_today": max(0, lottery.daily_draw_limit - (used or 0)),
            "prizes": [
                {"id": p.id, "name": p.name, "kind": p.kind, "points": p.points or None}
                for p in active_prizes(session, lottery.id)
                if p.kind != "none"
            ],
        }
        for lottery, used in rows
    ]


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
