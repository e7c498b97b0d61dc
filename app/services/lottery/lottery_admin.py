"""Marketing's side of the lottery: lotteries and their prizes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, cast, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from app.errors import AppError
from app.models import Staff
from app.models.coupons import CouponTemplate
from app.models.lottery import Lottery, LotteryDraw, LotteryPrize
from app.services import pagination
from app.services.lottery import get_lottery
from app.services.staff import audit

LOTTERY_FIELDS = (
    "name",
    "cost_points",
    "starts_at",
    "ends_at",
    "daily_draw_limit",
    "points_budget",
    "is_active",
)
PRIZE_FIELDS = ("name", "weight", "daily_cap", "is_active", "points")


def _jsonable(values: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


def _check_prize(session: Session, fields: dict) -> None:
    kind = fields["kind"]
    if kind == "points" and fields.get("points", 0) <= 0:
        raise AppError(
            "request.invalid", message="A points prize needs points.", details={"points": ["> 0"]}
        )
    if kind == "coupon":
        template_id = fields.get("coupon_template_id")
        if template_id is None or session.get(CouponTemplate, template_id) is None:
            raise AppError(
                "request.invalid",
                message="A coupon prize needs an existing coupon template.",
                details={"coupon_template_id": ["Unknown coupon template."]},
            )


def _new_prize(session: Session, lottery_id: int, fields: dict) -> LotteryPrize:
    _check_prize(session, fields)
    values = dict(fields)
    if values["kind"] == "none":
        values.update(stock_total=0, daily_cap=None, points=0, coupon_template_id=None)
    prize = LotteryPrize(lottery_id=lottery_id, won=0, **values)
    session.add(prize)
    return prize


def _check_winnable(session: Session, lottery_id: int) -> None:
    """A lottery is published (active) only with a prize that can be won: switched on, with a
    weight, not the no-prize slot, with stock left and a daily cap above 0. Otherwise members
    would pay to draw and never win (422)."""
    winnable = session.execute(
        select(LotteryPrize.id)
        .where(
            LotteryPrize.lottery_id == lottery_id,
            LotteryPrize.is_active.is_(True),
            LotteryPrize.kind != "none",
            LotteryPrize.weight > 0,
            LotteryPrize.won < LotteryPrize.stock_total,
            or_(LotteryPrize.daily_cap.is_(None), LotteryPrize.daily_cap > 0),
        )
        .limit(1)
    ).first()
    if winnable is None:
        raise AppError(
            "request.invalid",
            message="A lottery is opened with at least one prize that can be won.",
            details={"prizes": ["No prize can be won: add one, or save with is_active false."]},
        )


def create_lottery(session: Session, fields: dict, staff: Staff) -> Lottery:
    """A new lottery with its prizes (the no-prize slot is a prize of kind `none`); an active
    one needs a prize that can be won."""
    prizes = fields.pop("prizes", [])
    lottery = Lottery(**fields, points_given=0, created_by=staff.id)
    session.add(lottery)
    session.flush()
    for prize in prizes:
        _new_prize(session, lottery.id, prize)
    session.flush()
    if lottery.is_active:
        _check_winnable(session, lottery.id)
    audit.record(session, staff, "lottery.create", "lottery", lottery.id, _jsonable(fields))
    session.commit()
    return lottery


def list_lotteries(session: Session, limit: int, cursor) -> pagination.Page:
    """Every lottery with its prizes, newest first."""
    query = select(Lottery).options(selectinload(Lottery.prizes))
    return pagination.page(session, query, Lottery.id, limit, cursor)


def show_lottery(session: Session, lottery_id: int) -> Lottery:
    return get_lottery(session, lottery_id)


def update_lottery(session: Session, lottery_id: int, changes: dict, staff: Staff) -> Lottery:
    """Change a lottery's name, cost, window, daily limit, budget, or switch it off (or on,
    with a prize that can be won)."""
    lottery = get_lottery(session, lottery_id)
    if lottery.points_budget is None and changes.get("points_budget") is not None:
        # Unbudgeted draws do not count as they go: count what was given so far.
        lottery.points_given = session.scalar(
            select(cast(func.coalesce(func.sum(LotteryDraw.points_won), 0), BigInteger)).where(
                LotteryDraw.lottery_id == lottery_id
            )
        )
    for field in LOTTERY_FIELDS:
        if field in changes:
            setattr(lottery, field, changes[field])
    if lottery.starts_at >= lottery.ends_at:
        raise AppError(
            "request.invalid", message="The window is empty.", details={"ends_at": ["After start."]}
        )
    if changes.get("is_active") is True:
        _check_winnable(session, lottery_id)
    if lottery.points_budget is not None and lottery.points_budget < lottery.points_given:
        raise AppError(
            "lottery.budget_below_given",
            message="The budget cannot be lower than the points already given.",
            details={"points_given": lottery.points_given},
        )
    audit.record(session, staff, "lottery.update", "lottery", lottery_id, _jsonable(changes))
    session.commit()
    return lottery


def add_prize(session: Session, lottery_id: int, fields: dict, staff: Staff) -> LotteryPrize:
    get_lottery(session, lottery_id)
    prize = _new_prize(session, lottery_id, fields)
    session.flush()
    audit.record(session, staff, "lottery.prize.add", "lottery", lottery_id, _jsonable(fields))
    session.commit()
    return prize


def update_prize(
    session: Session, lottery_id: int, prize_id: int, changes: dict, staff: Staff
) -> LotteryPrize:
    """Change a prize's weight, daily cap or name, switch it off, or change its stock (not
    below what was already won: 409 lottery.stock_below_won)."""
    prize = session.get(LotteryPrize, prize_id)
    if prize is None or prize.lottery_id != lottery_id:
        raise AppError("lottery.prize_not_found")
    if "stock_total" in changes and prize.kind != "none":
        changed = session.execute(
            update(LotteryPrize)
            .where(LotteryPrize.id == prize_id, LotteryPrize.won <= changes["stock_total"])
            .values(stock_total=changes["stock_total"])
            .returning(LotteryPrize.id)
        ).scalar_one_or_none()
        if changed is None:
            raise AppError(
                "lottery.stock_below_won",
                message="The stock cannot be lower than the prizes already won.",
                details={"won": prize.won},
            )
    for field in PRIZE_FIELDS:
        if field in changes:
            setattr(prize, field, changes[field])
    audit.record(session, staff, "lottery.prize.update", "lottery", lottery_id, _jsonable(changes))
    session.commit()
    session.refresh(prize)
    return prize
