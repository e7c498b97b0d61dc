"""Invite codes: a staff member's (or their store's) mini-program code and official-account QR
code, whose scenes the sign-in and the follow events read back (services.signups).

Scenes: mini-program `s=<staff code>` (the mini-program passes it to the login as `staff_code`)
or `st=<store id>` (passed as `store_id`); official account `staff_<staff code>` or
`store_<store id>` (oa_followers reads both). Generating is limited by WeChat (5,000 mini-program
codes a minute, 100,000 permanent QR codes in all), so every code is made once: mini-program PNGs
and QR images are kept in Redis, the permanent QR code's ticket in the database (oa_qr_codes).
"""

from __future__ import annotations

import base64
import json
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.extensions import get_redis, rkey
from app.models import Staff
from app.models.base import insert_ignore
from app.models.messaging import OaQrCode
from app.services.members.oa_followers import STAFF_SCENE_PREFIX
from app.services.staff import require_store
from app.wechat import client as wechat

KINDS = ("miniapp", "oa")
INVITE_PAGE = "pages/index/index"  # the mini-program's home page reads options.scene
IMAGE_TTL = 30 * 24 * 3600


class InviteImage(NamedTuple):
    content: bytes
    mimetype: str


def scene(staff: Staff, kind: str, for_store: bool = False) -> str:
    """The scene an invite code carries (module docstring); a store's needs a store."""
    if for_store:
        store_id = require_store(staff)
        return f"st={store_id}" if kind == "miniapp" else f"store_{store_id}"
    if kind == "miniapp":
        return f"s={staff.staff_code}"
    return f"{STAFF_SCENE_PREFIX}{staff.staff_code}"


def invite_code(session: Session, staff: Staff, kind: str, for_store: bool = False) -> InviteImage:
    """The image of this staff member's (or their store's) invite code, made once."""
    chosen = scene(staff, kind, for_store)
    try:
        if kind == "miniapp":
            return _miniapp_code(chosen)
        return _oa_code(session, chosen)
    except (wechat.WeChatAPIError, wechat.WeChatUnavailable) as exc:
        raise wechat.as_app_error(exc) from exc


def _cached(key: str) -> InviteImage | None:
    raw = get_redis().get(key)
    if not raw:
        return None
    stored = json.loads(raw)
    return InviteImage(base64.b64decode(stored["content"]), stored["mimetype"])


def _keep(key: str, image: InviteImage) -> InviteImage:
    stored = {"content": base64.b64encode(image.content).decode(), "mimetype": image.mimetype}
    get_redis().set(key, json.dumps(stored), ex=IMAGE_TTL)
    return image


def _miniapp_code(chosen: str) -> InviteImage:
    key = rkey("invite", "miniapp", chosen, INVITE_PAGE)
    cached = _cached(key)
    if cached is not None:
        return cached
    png = wechat.get_wxa_code_unlimited(chosen, INVITE_PAGE)
    return _keep(key, InviteImage(png, "image/png"))


def _oa_code(session: Session, chosen: str) -> InviteImage:
    ticket = session.execute(
        select(OaQrCode.ticket).where(OaQrCode.scene == chosen)
    ).scalar_one_or_none()
    if ticket is None:
        made = wechat.create_oa_qrcode(chosen)
        # Two first requests at once may both ask WeChat; the first ticket stored is the one
        # kept (both codes carry the same scene, so either attributes the same).
        insert_ignore(
            session,
            OaQrCode,
            {"scene": chosen, **made, "created_at": clock.now()},
            "scene",
        )
        session.commit()
        ticket = session.execute(
            select(OaQrCode.ticket).where(OaQrCode.scene == chosen)
        ).scalar_one()
    key = rkey("invite", "oa", ticket)
    cached = _cached(key)
    if cached is not None:
        return cached
    return _keep(key, InviteImage(*wechat.show_oa_qrcode(ticket)))
