"""The points program: how many points a purchase earns, when they expire, and the tiers."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import AppError
from app.models.coupons import CouponTemplate
from app.services import programs

# A tier's perks when it names none (issue 19).
TIER_PERKS = {"upgrade_gift": None, "monthly_coupons": [], "grace_days": 0}
DEFAULTS = {
    # Points per yuan spent, before the tier multiplier.
    "points_per_yuan": 1,
    # How fractional points round: floor (default), round (half up) or ceil.
    "rounding": "floor",
    # rolling_days: valid N days after earning; calendar_year_end: until 31 Dec of the year
    # N years after earning (years=1 is the common "valid until the end of next year").
    "expiry": {"mode": "calendar_year_end", "years": 1, "days": 365},
    # Reached by points earned from purchases (net of refunds) in the last 12 months. Each
    # tier may add (issue 19) upgrade_gift {points, coupon_template_id} (once per upgrade to
    # it in a year), monthly_coupons [template ids] (the job tier_benefits, on the 1st) and
    # grace_days (kept that long after falling below; 0: down at the next evaluation).
    "tiers": [
        {
            "code": "normal",
            "name": "普通会员",
            "threshold": 0,
            "multiplier_percent": 100,
            **TIER_PERKS,
        },
        {
            "code": "silver",
            "name": "银卡会员",
            "threshold": 1000,
            "multiplier_percent": 120,
            **TIER_PERKS,
        },
        {
            "code": "gold",
            "name": "金卡会员",
            "threshold": 5000,
            "multiplier_percent": 150,
            **TIER_PERKS,
        },
    ],  # fmt: skip
    # Points at the till (积分抵现): {points_per_yuan_off, max_share_percent, min_points}, or
    # None: the till takes no points (nor with points_per_yuan_off 0). See till.points_at_till.
    "redeem": None,
}
programs.register_defaults("points", DEFAULTS)

# Ledger reasons whose points count towards a tier: what members earn by buying.
TIER_REASONS = ("purchase", "refund")


def config(session: Session) -> dict:
    return programs.get_config(session, "points")


def save_program(session: Session, cfg: dict, staff) -> dict:
    """Replace the points program (validated by its schema), 422 when a tier's upgrade gift or
    monthly coupons name a coupon template that does not exist; audited."""
    named = {
        template_id
        for tier in cfg["tiers"]
        for template_id in [
            *(tier.get("monthly_coupons") or ()),
            (tier.get("upgrade_gift") or {}).get("coupon_template_id"),
        ]
        if template_id is not None
    }
    if named:
        found = set(session.scalars(select(CouponTemplate.id).where(CouponTemplate.id.in_(named))))
        if named - found:
            missing = ", ".join(str(t) for t in sorted(named - found))
            raise AppError(
                "request.invalid",
                message="A tier names a coupon template that does not exist.",
                details={"tiers": [f"Unknown coupon template: {missing}."]},
            )
    return programs.put_config(session, "points", cfg, staff)


def expiry_date(cfg: dict, earned_on: date) -> date:
    """The last business day on which points earned on `earned_on` can be spent."""
    expiry = cfg["expiry"]
    if expiry["mode"] == "rolling_days":
        return earned_on + timedelta(days=int(expiry["days"]))
    return date(earned_on.year + int(expiry["years"]), 12, 31)


def tiers(cfg: dict) -> list[dict]:
    return sorted(cfg["tiers"], key=lambda t: t["threshold"])


def tier_for(cfg: dict, code: str) -> dict:
    ordered = tiers(cfg)
    return next((t for t in ordered if t["code"] == code), ordered[0])


def tier_reached(cfg: dict, earned_12m: int) -> dict:
    """The highest tier whose threshold the member's 12-month earnings reach."""
    reached = tiers(cfg)[0]
    for tier in tiers(cfg):
        if earned_12m >= tier["threshold"]:
            reached = tier
    return reached


def purchase_points(cfg: dict, amount_fen: int, tier_code: str, at_least_percent: int = 0) -> int:
    """Points for a purchase: amount in yuan x points per yuan x tier multiplier, rounded.
    `at_least_percent`: a paid membership's multiplier, applied when higher than the tier's.

    Integer arithmetic on fen and percent, so there are no floating-point surprises:
    points = amount_fen * points_per_yuan * multiplier_percent / 10,000, then rounded by the
    program's rule (floor by default: 9.99 yuan earns 9 points at 1 point per yuan).
    """
    numerator = (
        amount_fen
        * int(cfg["points_per_yuan"])
        * max(int(tier_for(cfg, tier_code)["multiplier_percent"]), at_least_percent)
    )
    return (numerator + ROUNDING_ADDEND[cfg["rounding"]]) // 10_000


# The rounding rule as what is added to the numerator before the floor division by 10,000:
# floor adds nothing, round (half up) adds half, ceil adds all but one. The till's purchase
# statement computes its points in SQL with the same addend (till.RECORD's earn_by_tier).
ROUNDING_ADDEND = {"floor": 0, "round": 5_000, "ceil": 9_999}


def earn_by_tier(cfg: dict) -> dict:
    """What the till's statement needs to compute purchase_points in SQL: points per yuan, the
    rounding addend, each tier's multiplier and the lowest tier's (for an unknown tier code)."""
    return {
        "points_per_yuan": int(cfg["points_per_yuan"]),
        "round_addend": ROUNDING_ADDEND[cfg["rounding"]],
        "multipliers": {t["code"]: int(t["multiplier_percent"]) for t in tiers(cfg)},
        "default_multiplier": int(tiers(cfg)[0]["multiplier_percent"]),
    }
