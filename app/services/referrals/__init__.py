"""Referrals: binding a new member to the member who invited them, and qualifying the invitee.

Binding happens once, at sign-up (first touch), only inside the program's window. It is refused
(kept as `rejected`, with the reason) for self-referral, a WeChat identity that was already a
member, a cycle, or a referrer over the daily or monthly cap; a burst of bindings for one
referrer is flagged for review instead of paid. The invitee qualifies by binding a phone and
buying at least the set amount within N days; rewards then wait in referral_rewards.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.extensions import get_redis, rkey
from app.models import Member, Purchase
from app.models.base import insert_ignore
from app.models.referrals import MemberIdentity, Referral, ReferralReward
from app.services import ledger, programs
from app.services.referrals import referral_rewards
from app.wechat import client as wechat

DEFAULTS = {
    "enabled": True,
    "starts_at": None,  # ISO instants; None means no bound
    "ends_at": None,
    "min_purchase_fen": 5000,  # the qualifying purchase: at least this much, net of refunds
    "qualify_within_days": 30,  # after binding
    "refund_window_days": 7,  # rewards wait this long after the qualifying purchase
    "referrer_points": 100,
    "referrer_coupon_template_id": None,
    "invitee_points": 50,
    "invitee_coupon_template_id": None,
    "daily_cap": 10,  # bindings per referrer per business day
    "monthly_cap": 50,  # ... per calendar month (business time zone)
    "burst_window_minutes": 60,  # this many bindings within the window are flagged for review
    "burst_max": 5,
    "poster_page": "pages/index/index",
}
programs.register_defaults("referral", DEFAULTS)
POSTER_TTL = 30 * 24 * 3600


def program(session: Session) -> dict:
    return programs.get_config(session, "referral")


def _instant(value) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def is_running(cfg: dict, now: datetime) -> bool:
    starts, ends = _instant(cfg.get("starts_at")), _instant(cfg.get("ends_at"))
    return (
        bool(cfg["enabled"]) and (starts is None or starts <= now) and (ends is None or now < ends)
    )


def save_program(session: Session, config: dict, staff) -> dict:
    """Replace the referral program's settings (instants stored as ISO text)."""
    stored = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in config.items()}
    programs.put_config(session, "referral", stored, staff)
    return program(session)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def record_identity(session: Session, kind: str, value: str, member_id: int) -> int:
    """Remember that this phone or unionid belongs to this member; returns the member it was
    first seen on (another member: the identity was already a member)."""
    insert_ignore(
        session,
        MemberIdentity,
        {"kind": kind, "digest": _digest(value), "member_id": member_id, "created_at": clock.now()},
        "kind",
        "digest",
    )
    return session.execute(
        select(MemberIdentity.member_id).where(
            MemberIdentity.kind == kind, MemberIdentity.digest == _digest(value)
        )
    ).scalar_one()


def _ancestors_include(session: Session, start_id: int, target_id: int) -> bool:
    current = start_id
    for _ in range(50):
        current = session.execute(
            select(Referral.referrer_id).where(
                Referral.invitee_id == current, Referral.status != "rejected"
            )
        ).scalar_one_or_none()
        if current is None:
            return False
        if current == target_id:
            return True
    return True  # an absurdly long chain is treated as suspicious


def _bindings_since(session: Session, referrer_id: int, since: datetime) -> int:
    return session.scalar(
        select(func.count(Referral.id)).where(
            Referral.referrer_id == referrer_id,
            Referral.status != "rejected",
            Referral.created_at >= since,
        )
    )


def _refusal(session, cfg, referrer: Member, member: Member, unionid, now) -> str:
    if referrer.id == member.id or (unionid and referrer.unionid == unionid):
        return "self_referral"
    if unionid and (
        member.unionid != unionid  # sign-in kept it off: another member holds this unionid
        or record_identity(session, "unionid", unionid, member.id) != member.id
    ):
        return "already_member"
    if _ancestors_include(session, referrer.id, member.id):
        return "cycle"
    today = clock.business_date(now)
    if _bindings_since(session, referrer.id, clock.business_day_start(today)) >= cfg["daily_cap"]:
        return "daily_cap"
    month_start = clock.business_day_start(today.replace(day=1))
    if _bindings_since(session, referrer.id, month_start) >= cfg["monthly_cap"]:
        return "monthly_cap"
    return ""


def bind_at_signup(
    session: Session, member: Member, referral_code: str | None, unionid: str | None, now=None
) -> Referral | None:
    """Bind a brand-new member to the owner of the referral code (first touch, in the window);
    a refused binding is kept as rejected with its reason. Unknown codes are ignored."""
    now = now or clock.now()
    if member.unionid:
        record_identity(session, "unionid", member.unionid, member.id)
    code = (referral_code or "").strip().upper()
    cfg = program(session)
    if not code or not is_running(cfg, now):
        return None
    referrer = session.execute(
        select(Member).where(Member.referral_code == code)
    ).scalar_one_or_none()
    if referrer is None:
        return None
    # One binding decision per referrer at a time, so caps and bursts count exactly.
    ledger.lock_member(session, referrer.id)
    reason = _refusal(session, cfg, referrer, member, unionid, now)
    window = now - timedelta(minutes=int(cfg["burst_window_minutes"]))
    flagged = not reason and _bindings_since(session, referrer.id, window) >= cfg["burst_max"]
    inserted = insert_ignore(
        session,
        Referral,
        {
            "referrer_id": referrer.id,
            "invitee_id": member.id,
            "status": "rejected" if reason else "bound",
            "reject_reason": reason,
            "flagged": flagged,
            "qualify_by": now + timedelta(days=int(cfg["qualify_within_days"])),
            "rejected_at": now if reason else None,
            "created_at": now,
        },
        "invitee_id",
    )
    return session.get(Referral, inserted.inserted[0]) if inserted.rowcount else None


def on_phone_bound(session: Session, member: Member, now=None) -> None:
    """A phone that was already another member's ends the invitee's referral; otherwise the
    invitee may now qualify (if the purchase came first)."""
    now = now or clock.now()
    first_owner = record_identity(session, "phone", member.phone, member.id)
    if first_owner != member.id:
        session.execute(
            update(Referral)
            .where(Referral.invitee_id == member.id, Referral.status == "bound")
            .values(status="rejected", reject_reason="already_member", rejected_at=now)
        )
        return
    try_qualify(session, member.id, now)


def try_qualify(session: Session, invitee_id: int, now=None) -> Referral | None:
    """Qualify a bound invitee who has a phone and a purchase of at least the set amount
    (net of refunds) within N days of binding; their rewards become pending (held for review
    when flagged) until the purchase's refund window has passed."""
    now = now or clock.now()
    referral = session.execute(
        select(Referral).where(Referral.invitee_id == invitee_id, Referral.status == "bound")
    ).scalar_one_or_none()
    if referral is None:
        return None
    phone = session.scalar(select(Member.phone_hash).where(Member.id == invitee_id))
    if not phone:
        return None
    cfg = program(session)
    purchase = session.execute(
        select(Purchase)
        .where(
            Purchase.member_id == invitee_id,
            Purchase.paid_at >= referral.created_at,
            Purchase.paid_at <= referral.qualify_by,
            Purchase.amount_fen - Purchase.refunded_fen >= int(cfg["min_purchase_fen"]),
        )
        .order_by(Purchase.paid_at, Purchase.id)
        .limit(1)
    ).scalar_one_or_none()
    if purchase is None:
        return None
    won = session.execute(
        update(Referral)
        .where(Referral.id == referral.id, Referral.status == "bound")
        .values(status="qualified", qualifying_purchase_id=purchase.id, qualified_at=now)
        .returning(Referral.id)
    ).scalar_one_or_none()
    if won is None:
        return None
    session.refresh(referral)
    referral_rewards.create_rewards(session, referral, purchase, cfg, now)
    return referral


class Invitee(NamedTuple):
    """A referral as its referrer sees it: the binding, and the invitee's nickname."""

    referral: Referral
    nickname: str


class MyReferrals(NamedTuple):
    referral_code: str
    program: dict
    invitees: list[Invitee]
    rewards: list[ReferralReward]


def my_referrals(session: Session, member_id: int) -> MyReferrals:
    """What GET /referrals shows: my code, the program's terms, each invitee's status, and my
    rewards (the 200 latest of each)."""
    member = session.get(Member, member_id)
    if member is None:
        raise AppError("member.not_found")
    invitees = session.execute(
        select(Referral, Member.nickname)
        .join(Member, Member.id == Referral.invitee_id)
        .where(Referral.referrer_id == member_id)
        .order_by(Referral.id.desc())
        .limit(200)
    ).all()
    rewards = session.execute(
        select(ReferralReward)
        .where(ReferralReward.member_id == member_id)
        .order_by(ReferralReward.id.desc())
        .limit(200)
    ).scalars()
    return MyReferrals(
        member.referral_code,
        program(session),
        [Invitee(referral, nickname) for referral, nickname in invitees],
        list(rewards),
    )


def poster_code(session: Session, member_id: int) -> bytes:
    """The member's mini-program code (PNG) with the referral code in its scene; generated
    once per code and page, then served from Redis (WeChat limits and bills generation)."""

    member = session.get(Member, member_id)
    if member is None:
        raise AppError("member.not_found")
    page = program(session)["poster_page"]
    key = rkey("poster", member.referral_code, page)
    cached = get_redis().get(key)
    if cached:
        return base64.b64decode(cached)
    try:
        png = wechat.get_wxa_code_unlimited(f"r={member.referral_code}", page)
    except (wechat.WeChatAPIError, wechat.WeChatUnavailable) as exc:
        raise wechat.as_app_error(exc) from exc
    get_redis().set(key, base64.b64encode(png).decode(), ex=POSTER_TTL)
    return png
