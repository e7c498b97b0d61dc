"""Staff, marketing and admin endpoints under /staff/v1: one module per resource (`blp`)."""

from __future__ import annotations

import importlib

# One line per resource module; each defines `blp` (a flask_smorest.Blueprint).
MODULES: list[str] = [
    "auth",
    "scans",
    "members",
    "purchases",
    "adjustments",
    "programs",
    "admin_stores",
    "admin_staff",
    "admin_jobs",
    "admin_campaigns",
    "audiences",
    "coupon_redemptions",
    "admin_coupons",
    "admin_lotteries",
    "admin_referrals",
    "lottery_wins",
    "segments",
    "admin_messaging",
]


def register_blueprints(api) -> None:
    for name in MODULES:
        api.register_blueprint(importlib.import_module(f"app.staff.{name}").blp)
