"""Mini-program (member) endpoints under /api/v1: one module per resource, each with a `blp`."""

from __future__ import annotations

from app.api import (
    auth,
    checkins,
    coupons,
    history,
    lotteries,
    mall,
    me,
    membership,
    ping,
    points,
    promotions,
    referrals,
    subscriptions,
)

# Registered in this order (it is the order of the OpenAPI document's tags).
BLUEPRINTS = [
    auth.blp,
    me.blp,
    points.blp,
    checkins.blp,
    ping.blp,
    subscriptions.blp,
    coupons.blp,
    lotteries.blp,
    mall.blp,
    promotions.blp,
    history.blp,
    referrals.blp,
    membership.blp,
]


def register_blueprints(api) -> None:
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
