"""Mini-program (member) endpoints under /api/v1: one module per resource, each with a `blp`."""

from __future__ import annotations

import importlib

# One line per resource module; each defines `blp` (a flask_smorest.Blueprint).
MODULES: list[str] = [
    "auth",
    "me",
    "points",
    "checkins",
    "ping",
    "subscriptions",
    "coupons",
    "lotteries",
    "referrals",
]


def register_blueprints(api) -> None:
    for name in MODULES:
        api.register_blueprint(importlib.import_module(f"app.api.{name}").blp)
