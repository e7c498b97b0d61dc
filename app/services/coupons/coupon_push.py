"""Pushing a coupon with a wake-up or a campaign message (the coupons program does the issuing)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from app.errors import AppError
from app.services.coupons import issue_coupon

log = logging.getLogger("huiyuan.coupon_push")


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
