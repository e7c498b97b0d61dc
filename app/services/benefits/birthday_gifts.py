"""The birthday program: once a year, each member's gift of points and a coupon, with a message.

`when` says which members a day's run gives to: `day` those whose birthday is that business
day, `week` those whose birthday falls in its ISO week (the Monday's run gives the whole week;
a later run in the week gives whoever that one missed), `month` those whose birthday is in its
month (the 1st's run, or the first run after it). 29 February counts as 28 February in other
years. Closed accounts get nothing.

Once a year, however often the job runs or crashes: the gift's ref is `birthday:<member>:<year>`
(the year of the birthday being celebrated), unique on the ledger entry and on the coupon, and
the message's dedupe key is the year. The job is set-based: a range of member ids per
transaction, a constant number of statements per range (find and lock the members due, the
ledger's bulk earn, the coupons' bulk push, the outbox), never a statement per member.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from sqlalchemy import BigInteger, Date, Integer, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models.staff import Staff
from app.services import ledger, programs
from app.services.coupons import coupon_admin, coupon_push
from app.services.messaging import outbox

WHEN = ("day", "week", "month")
DEFAULTS = {
    "enabled": False,
    "when": "day",  # day | week | month
    "points": 0,
    "coupon_template_id": None,
    "notify": True,  # a message (through the outbox, as every message) when the gift is given
}
programs.register_defaults("birthday", DEFAULTS)
BATCH = 20_000  # member ids per statement and per transaction
PURPOSE = "birthday_gift"


def program(session: Session) -> dict:
    return programs.get_config(session, "birthday")


def save_program(session: Session, config: dict, staff: Staff) -> dict:
    """Replace the birthday program (422 for a coupon template that does not exist, or an
    enabled program that gives nothing); audited."""
    template_id = config.get("coupon_template_id")
    coupon_admin.check_template_exists(session, template_id)
    if config["enabled"] and not config["points"] and template_id is None:
        raise AppError(
            "request.invalid",
            message="A birthday gift needs points or a coupon.",
            details={"points": ["Give points or a coupon_template_id."]},
        )
    return programs.put_config(session, "birthday", config, staff)


def window(today: date, when: str) -> tuple[date, date]:
    """The birthdays (this year's dates) that a run on business day `today` gives to."""
    if when == "day":
        return today, today
    if when == "week":
        monday = today - timedelta(days=today.weekday())
        return monday, monday + timedelta(days=6)
    if when == "month":
        last = calendar.monthrange(today.year, today.month)[1]
        return today.replace(day=1), today.replace(day=last)
    raise ValueError(f"unknown birthday mode {when!r}")


# The members of one id range [lo, hi) whose birthday, in one of :years, falls within
# [:first_day, :last_day] (29 February as 28 February in a common year), open accounts only,
# locked FOR NO KEY UPDATE in id order (as the ledger locks a member: a closure waits for the
# batch, and one that got there first is seen under the lock). A window spans at most two years
# (a week around New Year) and a member's birthday falls in it at most once. Returns the members
# and their gift refs, in id order.
_DUE = text(
    """
    WITH due AS MATERIALIZED (
        SELECT m.id, y.year
        FROM members m
        CROSS JOIN unnest(CAST(:years AS int[])) AS y(year)
        WHERE m.id >= :lo AND m.id < :hi AND m.birthday IS NOT NULL AND m.closed_at IS NULL
          AND make_date(
                y.year,
                CAST(extract(month FROM m.birthday) AS int),
                CASE WHEN extract(month FROM m.birthday) = 2 AND extract(day FROM m.birthday) = 29
                          AND NOT (y.year % 4 = 0 AND (y.year % 100 <> 0 OR y.year % 400 = 0))
                     THEN 28
                     ELSE CAST(extract(day FROM m.birthday) AS int) END
              ) BETWEEN :first_day AND :last_day
        ORDER BY m.id
        FOR NO KEY UPDATE OF m
    )
    SELECT array_agg(id ORDER BY id), array_agg('birthday:' || id || ':' || year ORDER BY id)
    FROM due
    """
).bindparams(
    bindparam("years", type_=postgresql.ARRAY(Integer())),
    bindparam("lo", type_=BigInteger()),
    bindparam("hi", type_=BigInteger()),
    bindparam("first_day", type_=Date()),
    bindparam("last_day", type_=Date()),
)

# The messages: one per member of the batch whose gift exists (given now or by an earlier run:
# the outbox's unique (purpose, member, year) queues it once), none when nothing could be given
# (no points, and the coupon refused for want of stock).
_GIVEN = """
SELECT w.member_id, split_part(w.ref, ':', 3) AS dedupe_key,
       json_build_object('points', CAST(:points AS int), 'year', split_part(w.ref, ':', 3))
           AS params
FROM unnest(CAST(:ids AS bigint[]), CAST(:refs AS text[])) AS w(member_id, ref)
WHERE EXISTS (SELECT 1 FROM point_entries e WHERE e.ref = w.ref)
   OR EXISTS (SELECT 1 FROM coupons c WHERE c.ref = w.ref)
"""


def member_id_ranges(session: Session, width: int):
    """[lo, hi) ranges of `width` member ids covering every member (committing the read)."""
    lo, hi = session.execute(text("SELECT min(id), max(id) FROM members")).one()
    session.commit()
    if lo is None:
        return
    for start in range(lo, hi + 1, width):
        yield start, start + width


def give_birthday_gifts(session: Session, now: datetime, width: int | None = None) -> dict:
    """Give today's birthday gifts (business day of `now`): each member at most once a year.

    Commits each range of member ids; a crash loses at most the range in flight, and the next
    run gives only what is still missing. Counts: `members` due in the window (given now or
    before), `points` and `coupons` given now, `queued` messages new now."""
    cfg = program(session)
    counts = {"members": 0, "points": 0, "coupons": 0, "queued": 0}
    if not cfg["enabled"]:
        return counts
    today = clock.business_date(now)
    first_day, last_day = window(today, cfg["when"])
    years = sorted({first_day.year, last_day.year})
    points = int(cfg["points"] or 0)
    template_id = cfg.get("coupon_template_id")
    queue = None
    if cfg["notify"]:
        queue = text(
            "WITH q AS ("
            + outbox.enqueue_from(PURPOSE, _GIVEN, marketing=False)
            + ") SELECT count(*) FROM q"
        )
        send_at = outbox.send_time(now, outbox.settings(session))
    expires_on = ledger.expiry_for(session, today) if points else None
    for lo, hi in member_id_ranges(session, width or BATCH):
        ids, refs = session.execute(
            _DUE,
            {"years": years, "lo": lo, "hi": hi, "first_day": first_day, "last_day": last_day},
        ).one()
        if not ids:
            session.commit()
            continue
        counts["members"] += len(ids)
        if points:
            credited = ledger.earn_many(
                session, ids, refs, points, reason="birthday", now=now, expires_on=expires_on
            )
            counts["points"] += points * len(credited)
        if template_id:
            counts["coupons"] += coupon_push.push_coupons(
                session, int(template_id), ids, refs, source="birthday", now=now
            )
        if queue is not None:
            counts["queued"] += session.execute(
                queue,
                {"ids": ids, "refs": refs, "points": points, "now": now, "not_before": send_at},
            ).scalar_one()
        session.commit()
    return counts
