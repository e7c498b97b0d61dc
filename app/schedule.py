"""The schedule: every periodic job's name, trigger and purpose.

The scheduler process (jobs/) runs these, binding each name to its function; the admin API lists
them (GET /staff/v1/admin/jobs). The table lives here, not in jobs/, because app never imports
jobs: the process that runs jobs depends on the app, not the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass

JOBSTORE_TABLE = "apscheduler_jobs"  # APScheduler's job store, on the app's database


@dataclass(frozen=True)
class Scheduled:
    name: str
    cron: dict  # APScheduler cron fields, in the business time zone
    description: str


SCHEDULE: dict[str, Scheduled] = {
    job.name: job
    for job in (
        Scheduled(
            "points_expiry",
            {"hour": 0, "minute": 5},
            "Expire points whose last day has passed (one ledger entry per member).",
        ),
        Scheduled(
            "tiers_evaluate",
            {"hour": 1, "minute": 0},
            "Re-evaluate tiers on 12-month earnings; down at most one tier a night.",
        ),
        Scheduled(
            "birthday_gifts",
            {"hour": 0, "minute": 20},
            "Give birthday gifts (points, coupon, message): once per member per year.",
        ),
        Scheduled(
            "tier_benefits",
            {"day": 1, "hour": 0, "minute": 40},
            "Issue each tier's monthly coupons on the 1st: once per member, month and template.",
        ),
        Scheduled(
            "idempotency_purge",
            {"hour": 4, "minute": 10},
            "Forget Idempotency-Keys older than 48 hours.",
        ),
        Scheduled(
            "points_expiry_reminder",
            {"hour": 9, "minute": 30},
            "Remind members of points expiring within N days (once per member per date).",
        ),
        Scheduled(
            "dormant_wakeup",
            {"hour": 10, "minute": 30},
            "Wake members who entered the sleeping stage (at most once per 30 days).",
        ),
        Scheduled(
            "messages_dispatch",
            {"minute": "*"},
            "Start due campaigns and send queued messages (quiet 21:00-09:00, capped).",
        ),
        Scheduled(
            "referral_settlement",
            {"hour": 2, "minute": 30},
            "Grant referral rewards whose purchase's refund window has passed.",
        ),
        Scheduled(
            "membership_orders_settle",
            {"minute": "*/5"},
            "Settle membership orders whose WeChat Pay notification never came; close unpaid.",
        ),
        Scheduled(
            "membership_benefits",
            {"hour": 0, "minute": 40},
            "Paid members: the month's plan coupons (once a month), reminders before the end.",
        ),
        Scheduled(
            "segments_refresh",
            {"hour": 3, "minute": 0},
            "Recompute RFM groups, lifecycle stages and each member's odds of buying again.",
        ),
    )
}
