"""Invite codes: a staff member's (or their store's) mini-program code and official-account QR
code, whose scenes the sign-in and the follow events read back (services.signups).

Scenes: mini-program `s=<staff code>` (the mini-program passes it to the login as `staff_code`)
or `st=<store id>` (passed as `store_id`); official account `staff_<staff code>` or
`store_<store id>` (oa_followers reads both). Generating is limited by WeChat (5,000 mini-program
codes a minute, 100,000 permanent QR codes in all), so every code is made once: mini-program PNGs
and QR images are kept in Redis, the permanent QR code's ticket in the database (oa_qr_codes).

The official-account image is drawn here (segno), from the `url` qrcode/create answers: that url
is what the code carries (WeChat's documentation says so, and that a developer may draw the image
from it), so a scan of ours is a scan of WeChat's. It saves the call to showqrcode (on another
host, mp.weixin.qq.com, and a JPEG), so once the ticket is kept, a lost image cache costs no call
to WeChat at all; showqrcode remains for a ticket kept without its url.
"""

from __future__ import annotations

import base64
import io
import json
from typing import NamedTuple

import segno
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
    stored = session.execute(
        select(OaQrCode.ticket, OaQrCode.url).where(OaQrCode.scene == chosen)
    ).one_or_none()
    if stored is None:
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
        stored = session.execute(
            select(OaQrCode.ticket, OaQrCode.url).where(OaQrCode.scene == chosen)
        ).one()
    key = rkey("invite", "oa", stored.ticket)
    cached = _cached(key)
    if cached is not None:
        return cached
    if stored.url:
        return _keep(key, InviteImage(qr_png(stored.url), "image/png"))
    # A code kept without its url (WeChat always answers one; a row from before it was kept):
    # the image from showqrcode.
    return _keep(key, InviteImage(*wechat.show_oa_qrcode(stored.ticket)))


def qr_png(content: str) -> bytes:
    """A PNG QR code of `content`, as WeChat draws an official-account code: error correction
    M, 12 pixels a module, the standard 4-module quiet zone (about 450 pixels square)."""
    buffer = io.BytesIO()
    segno.make(content, error="m", micro=False).save(buffer, kind="png", scale=12, border=4)
    return buffer.getvalue()
