"""Marketing's side of the lottery: lotteries and their prizes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

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


def lottery_admin_view(session: Session, lottery: Lottery) -> dict:
    prizes = session.execute(
        select(LotteryPrize).where(LotteryPrize.lottery_id == lottery.id).order_by(LotteryPrize.id)
    ).scalars()
    return {
        **{f: getattr(lottery, f) for f in (*LOTTERY_FIELDS, "id", "points_given", "created_at")},
        "prizes": [prize_view(p) for p in prizes],
    }


def prize_view(prize: LotteryPrize) -> dict:
    fields = ("id", "name", "kind", "weight", "points", "coupon_template_id", "stock_total")
    view = {f: getattr(prize, f) for f in fields}
    view.update(won=prize.won, daily_cap=prize.daily_cap, is_active=prize.is_active)
    view["stock_left"] = prize.stock_total - prize.won
    return view


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


def create_lottery(session: Session, fields: dict, staff: Staff) -> dict:
    """A new lottery with its prizes (the no-prize slot is a prize of kind `none`)."""
    prizes = fields.pop("prizes", [])
    lottery = Lottery(**fields, points_given=0, created_by=staff.id)
    session.add(lottery)
    session.flush()
    for prize in prizes:
        _new_prize(session, lottery.id, prize)
    session.flush()
    audit.record(session, staff, "lottery.create", "lottery", lottery.id, _jsonable(fields))
    session.commit()
    return lottery_admin_view(session, lottery)


def list_lotteries(session: Session, limit: int, cursor) -> dict:
    result = pagination.page(session, select(Lottery), Lottery.id, limit, cursor)
    result["items"] = [lottery_admin_view(session, lot) for lot in result["items"]]
    return result


def show_lottery(session: Session, lottery_id: int) -> dict:
    return lottery_admin_view(session, get_lottery(session, lottery_id))


def update_lottery(session: Session, lottery_id: int, changes: dict, staff: Staff) -> dict:
    """Change a lottery's name, cost, window, daily limit, budget, or switch it off."""
    lottery = get_lottery(session, lottery_id)
    if lottery.points_budget is None and changes.get("points_budget") is not None:
        # Unbudgeted draws do not count as they go: count what was given so far.
        lottery.points_given = session.scalar(
            select(func.coalesce(func.sum(LotteryDraw.points_won), 0)).where(
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
    if lottery.points_budget is not None and lottery.points_budget < lottery.points_given:
        raise AppError(
            "lottery.budget_below_given",
            message="The budget cannot be lower than the points already given.",
            details={"points_given": lottery.points_given},
        )
    audit.record(session, staff, "lottery.update", "lottery", lottery_id, _jsonable(changes))
    session.commit()
    return lottery_admin_view(session, lottery)


def add_prize(session: Session, lottery_id: int, fields: dict, staff: Staff) -> dict:
    get_lottery(session, lottery_id)
    prize = _new_prize(session, lottery_id, fields)
    session.flush()
    audit.record(session, staff, "lottery.prize.add", "lottery", lottery_id, _jsonable(fields))
    session.commit()
    return prize_view(prize)


def update_prize(
    session: Session, lottery_id: int, prize_id: int, changes: dict, staff: Staff
) -> dict:
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
    return prize_view(prize)
