"""Tier perks (issue 19): the upgrade gift, the monthly coupons, and the downgrade notice's purpose.

The points program's tiers may carry `upgrade_gift` {points, coupon_template_id},
`monthly_coupons` [template ids] and `grace_days` (services.members.tiers applies the grace and
queues the notice).

- Upgrade gift: given where a tier change is applied (the till's immediate upgrade, the nightly
  evaluation), to the tier reached (a jump over a tier gives the higher tier's gift only). Its
  ref `tier_gift:<member>:<tier>:<year>` (business year) is unique on the ledger entry and the
  coupon: once a year per tier, so a downgrade and a re-upgrade within the year give nothing
  again. Points with reason `tier_gift`, which does not count towards a tier.
- Monthly coupons: the job `tier_benefits` (on the 1st, business time zone) gives each open
  member one coupon of each template of their tier, ref `tier_monthly:<member>:<YYYY-MM>:
  <template>`: a rerun in the month, or one after a crash, gives only what is missing. By
  ranges of member ids, a transaction each, and a constant number of statements per range
  (one to find the members by tier, one bulk push per template: coupon_push), never one per
  member.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app import clock
from app.services import ledger
from app.services.benefits.birthday_gifts import member_id_ranges
from app.services.coupons import coupon_push
from app.services.ledger import points_program

DOWNGRADE_PURPOSE = "tier_downgrade_notice"
BATCH = 20_000  # member ids per statement and per transaction


def gift_ref(member_id: int, tier_code: str, year: int) -> str:
    return f"tier_gift:{member_id}:{tier_code}:{year}"


def give_upgrade_gifts(
    session: Session, cfg: dict, upgraded: list[tuple[int, str]], now: datetime
) -> dict:
    """The gifts of the tiers these members (id, tier reached) were just upgraded to: per tier
    with a gift, the ledger's bulk earn and the coupons' bulk push (once per ref). Counts of
    points and coupons given now. Flushes, never commits: the caller's transaction holds the
    upgrade and its gift together."""
    counts = {"gift_points": 0, "gift_coupons": 0}
    by_tier: dict[str, list[int]] = defaultdict(list)
    for member_id, code in upgraded:
        by_tier[code].append(member_id)
    year = clock.business_date(now).year
    for tier in points_program.tiers(cfg):
        gift = tier.get("upgrade_gift") or {}
        ids = sorted(by_tier.get(tier["code"], ()))
        if not ids or not gift:
            continue
        refs = [gift_ref(member_id, tier["code"], year) for member_id in ids]
        points = int(gift.get("points") or 0)
        if points:
            credited = ledger.earn_many(session, ids, refs, points, reason="tier_gift", now=now)
            counts["gift_points"] += points * len(credited)
        if gift.get("coupon_template_id"):
            counts["gift_coupons"] += coupon_push.push_coupons(
                session, int(gift["coupon_template_id"]), ids, refs, source="tier_gift", now=now
            )
    return counts


# The open members of one id range [lo, hi) by tier, for the tiers that have monthly coupons.
_BY_TIER = text(
    """
    SELECT tier_code, array_agg(id ORDER BY id)
    FROM members
    WHERE id >= :lo AND id < :hi AND closed_at IS NULL AND tier_code = ANY(:codes)
    GROUP BY tier_code
    """
).bindparams(
    bindparam("lo", type_=BigInteger()),
    bindparam("hi", type_=BigInteger()),
    bindparam("codes", type_=postgresql.ARRAY(postgresql.VARCHAR())),
)


def give_monthly_coupons(session: Session, now: datetime, width: int | None = None) -> dict:
    """This month's coupons of each member's tier (business month of `now`), once per member,
    month and template however often it runs. Commits each range of member ids; counts:
    `members` of tiers with monthly coupons, `coupons` given now."""
    cfg = points_program.config(session)
    templates = {
        t["code"]: list(dict.fromkeys(t.get("monthly_coupons") or ()))
        for t in points_program.tiers(cfg)
    }
    templates = {code: ids for code, ids in templates.items() if ids}
    counts = {"members": 0, "coupons": 0}
    if not templates:
        return counts
    month = clock.business_date(now).strftime("%Y-%m")
    every_template = sorted({t for ids in templates.values() for t in ids})
    for lo, hi in member_id_ranges(session, width or BATCH):
        found = session.execute(_BY_TIER, {"lo": lo, "hi": hi, "codes": sorted(templates)}).all()
        for _, ids in found:
            counts["members"] += len(ids)
        for template_id in every_template:
            ids = sorted(
                member_id
                for code, members in found
                if template_id in templates[code]
                for member_id in members
            )
            if ids:
                refs = [f"tier_monthly:{m}:{month}:{template_id}" for m in ids]
                counts["coupons"] += coupon_push.push_coupons(
                    session, template_id, ids, refs, source="tier_monthly", now=now
                )
        session.commit()
    return counts
