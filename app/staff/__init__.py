"""Staff, marketing and admin endpoints under /staff/v1: one module per resource (`blp`)."""

from __future__ import annotations

from app.staff import (
    adjustments,
    admin_analytics,
    admin_audit,
    admin_campaigns,
    admin_coupons,
    admin_jobs,
    admin_lotteries,
    admin_mall,
    admin_membership,
    admin_messaging,
    admin_pos_keys,
    admin_promotions,
    admin_referrals,
    admin_staff,
    admin_stores,
    audiences,
    auth,
    coupon_redemptions,
    exchanges,
    lottery_wins,
    me,
    members,
    programs,
    purchases,
    reports,
    scans,
    segments,
)

# Registered in this order (it is the order of the OpenAPI document's tags).
BLUEPRINTS = [
    auth.blp,
    me.blp,
    scans.blp,
    members.blp,
    purchases.blp,
    adjustments.blp,
    programs.blp,
    admin_stores.blp,
    admin_pos_keys.blp,
    admin_staff.blp,
    admin_jobs.blp,
    admin_campaigns.blp,
    audiences.blp,
    coupon_redemptions.blp,
    admin_coupons.blp,
    admin_lotteries.blp,
    admin_referrals.blp,
    lottery_wins.blp,
    exchanges.blp,
    admin_mall.blp,
    admin_promotions.blp,
    admin_messaging.blp,
    segments.blp,
    admin_analytics.blp,
    reports.blp,
    admin_audit.blp,
    admin_membership.blp,
]


def register_blueprints(api) -> None:
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
