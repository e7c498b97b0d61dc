"""Pushing coupons with wake-up and campaign messages (the coupons program does the issuing).

`push_coupon` gives one member one coupon through `issue_coupon`. `push_coupons` gives a batch of
members theirs in one statement (the nightly wake-up reaches hundreds of thousands): the same
rules, decided by the same rows and constraints — the member's holding (`count <
limit_per_member`, an upsert), the coupon's unique `ref` and `code`, and the stock shards'
`issued <= stock` check — with the stock taken in `_issue_within_stock`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import AppError
from app.models.coupons import COUPON_SOURCES, CouponTemplate
from app.services.coupons import issue_coupon, validity
from app.services.identifiers import CROCKFORD

log = logging.getLogger("huiyuan.coupon_push")
ATTEMPTS = 3


def push_coupon(
    session: Session,
    template_id: int,
    member_id: int,
    *,
    source: str,
    ref: str,
    now: datetime,
):
    """Give the member one coupon of the template, once per `ref`; None when the coupon is
    refused (out of stock, limit reached): the message still goes, without the coupon."""
    try:
        with session.begin_nested():
            return issue_coupon(session, template_id, member_id, source=source, ref=ref, now=now)
    except AppError as exc:
        log.info("coupon %s not pushed to member %s: %s", template_id, member_id, exc.code)
        return None


def push_coupons(
    session: Session,
    template_id: int,
    member_ids: list[int],
    refs: list[str],
    *,
    source: str,
    now: datetime,
) -> int:
    """Give each member one coupon of the template, once per ref (refs[i] for member_ids[i]),
    as far as the stock and each member's limit allow; how many were given. Members the stock
    or their limit refuse get none (lowest member ids first when the stock runs short). Never
    more than the stock or a member's limit, under any concurrency; flushes, never commits."""
    if source not in COUPON_SOURCES:
        raise ValueError(f"unknown coupon source {source!r}")
    if not member_ids:
        return 0
    template = session.get(CouponTemplate, template_id, populate_existing=True)
    if template is None or not template.is_active:
        return 0
    valid_from, valid_until = validity(template, now)
    if valid_until < now:
        return 0
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with session.begin_nested():
                return _issue_within_stock(
                    session,
                    template_id,
                    member_ids,
                    refs,
                    source=source,
                    valid=(valid_from, valid_until),
                    now=now,
                )
        except IntegrityError as exc:
            # A ref or a code was taken meanwhile (a concurrent push of the same ref, a random
            # code's collision): nothing was written, try again.
            if attempt == ATTEMPTS:
                raise
            log.info("bulk coupon push retried (%s)", type(exc.orig).__name__)
    raise AssertionError("unreachable")


# One statement: the template's stock shards locked in shard order (the order the admin's stock
# change locks them in; a flash claim holds one shard for its one statement, so nobody waits in a
# circle) and what they have left read at the lock, current under concurrent claims; the members
# still to be given one (no coupon of that ref yet, under their limit), up to the stock left; their
# holdings counted (the upsert re-checks the limit on the current row); a coupon for each member
# counted; the coupons given taken from the shards in shard order, each at most what it has left
# (the shards' `issued <= stock` check is the guard of last resort). Coupon codes: 16 Crockford
# characters from the low 5 bits of 16 bytes of two random UUIDs (pg_strong_random; byte 6
# skipped: it holds the version bits).
_ISSUE = f"""
WITH shards AS MATERIALIZED (
    SELECT shard, stock - issued AS left_in_shard
    FROM coupon_stock_shards WHERE template_id = :template_id
    ORDER BY shard
    FOR UPDATE
), tpl AS (
    SELECT (SELECT coalesce(sum(left_in_shard), 0) FROM shards) AS left_in_stock,
           limit_per_member
    FROM coupon_templates WHERE id = :template_id
), wanted AS (
    SELECT w.member_id, w.ref
    FROM unnest(CAST(:member_ids AS bigint[]), CAST(:refs AS text[])) AS w(member_id, ref)
    WHERE NOT EXISTS (SELECT 1 FROM coupons c WHERE c.ref = w.ref)
      AND NOT EXISTS (
          SELECT 1 FROM coupon_holdings h, tpl
          WHERE h.template_id = :template_id AND h.member_id = w.member_id
            AND h.count >= tpl.limit_per_member)
    ORDER BY w.member_id
    LIMIT (SELECT greatest(left_in_stock, 0) FROM tpl)
), held AS (
    INSERT INTO coupon_holdings (template_id, member_id, count)
    SELECT :template_id, member_id, 1 FROM wanted
    ON CONFLICT (template_id, member_id) DO UPDATE SET count = coupon_holdings.count + 1
    WHERE coupon_holdings.count < (SELECT limit_per_member FROM tpl)
    RETURNING member_id
), given AS (
    INSERT INTO coupons
        (code, template_id, member_id, source, ref, status, valid_from, valid_until, created_at)
    SELECT code.code, :template_id, w.member_id, :source, w.ref, 'unused', :valid_from,
           :valid_until, :now
    FROM wanted w JOIN held USING (member_id)
    CROSS JOIN LATERAL (
        SELECT string_agg(substr('{CROCKFORD}', (get_byte(r.b, i) & 31) + 1, 1), '' ORDER BY i)
            AS code
        FROM (SELECT uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) AS b
              WHERE w.member_id IS NOT NULL) r,
             unnest(ARRAY[0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]) AS i
    ) code
    RETURNING member_id
), taken AS (
    SELECT shard, left_in_shard,
           sum(left_in_shard) OVER (ORDER BY shard) - left_in_shard AS left_before
    FROM shards
), stock AS (
    UPDATE coupon_stock_shards s
    SET issued = s.issued + least(t.left_in_shard, (SELECT count(*) FROM given) - t.left_before)
    FROM taken t
    WHERE s.template_id = :template_id AND s.shard = t.shard
      AND (SELECT count(*) FROM given) > t.left_before AND t.left_in_shard > 0
    RETURNING s.shard
)
SELECT (SELECT count(*) FROM held) AS held, (SELECT count(*) FROM given) AS given,
       (SELECT count(*) FROM stock) AS shards_taken_from
"""


def _issue_within_stock(
    session: Session,
    template_id: int,
    member_ids: list[int],
    refs: list[str],
    *,
    source: str,
    valid: tuple[datetime, datetime],
    now: datetime,
) -> int:
    """The stock accounting of a bulk push: coupons and the stock shards' `issued` in one
    statement (see _ISSUE); how many coupons were given."""
    held, given, shards = session.execute(
        text(_ISSUE),
        {
            "template_id": template_id,
            "member_ids": list(member_ids),
            "refs": list(refs),
            "source": source,
            "valid_from": valid[0],
            "valid_until": valid[1],
            "now": now,
        },
    ).one()
    if held != given:  # cannot happen (each held row gives one coupon); never leave it counted
        raise AssertionError(f"bulk push counted {held} holdings for {given} coupons")
    log.info("pushed %s coupons of template %s (from %s stock shards)", given, template_id, shards)
    return int(given)
