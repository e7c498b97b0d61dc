"""Official-account followers: follow, unfollow, attribution to a store or a staff member (their
parametric QR codes), the 积分 keyword reply."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Member, Store
from app.models.base import insert_ignore
from app.models.messaging import OaFollower, OutboxMessage
from app.services import signups
from app.services.ledger import expiring_summary

STAFF_SCENE_PREFIX = "staff_"


def store_for_scene(session: Session, scene: str | None) -> int | None:
    """The store a parametric QR code's scene names: `store_<id>` or the store's code."""
    if not scene:
        return None
    if scene.startswith("store_") and scene[6:].isdigit():
        store = session.get(Store, int(scene[6:]))
    else:
        store = session.execute(select(Store).where(Store.code == scene)).scalar_one_or_none()
    return store.id if store is not None else None


def _ensure(session: Session, openid: str, now: datetime) -> None:
    insert_ignore(
        session,
        OaFollower,
        {"openid": openid, "following": True, "followed_at": now, "updated_at": now},
        "openid",
    )


def followed(session: Session, openid: str, scene: str | None, now: datetime) -> None:
    """The user followed (again); a store's or a staff member's QR code attributes them to it
    (the first attribution wins)."""
    _ensure(session, openid, now)
    values: dict = {"following": True, "followed_at": now, "unfollowed_at": None}
    session.execute(update(OaFollower).where(OaFollower.openid == openid).values(**values))
    _attribute(session, openid, scene)
    session.commit()


def scanned(session: Session, openid: str, scene: str | None, now: datetime) -> None:
    """A follower scanned a store's or staff member's QR code: attribute them if none has yet."""
    _ensure(session, openid, now)
    _attribute(session, openid, scene)
    session.commit()


def _attribute(session: Session, openid: str, scene: str | None) -> None:
    staff_id = None
    if scene and scene.startswith(STAFF_SCENE_PREFIX):
        staff = signups.staff_by_code(session, scene[len(STAFF_SCENE_PREFIX) :])
        if staff is None:
            return
        staff_id, store_id = staff.id, staff.store_id
    else:
        store_id = store_for_scene(session, scene)
        if store_id is None:
            return
    session.execute(
        update(OaFollower)
        .where(
            OaFollower.openid == openid,
            OaFollower.store_id.is_(None),
            OaFollower.staff_id.is_(None),
        )
        .values(store_id=store_id, staff_id=staff_id, scene=scene)
    )


def unfollowed(session: Session, openid: str, now: datetime) -> None:
    """The user unfollowed: no more template messages to them."""
    _ensure(session, openid, now)
    session.execute(
        update(OaFollower)
        .where(OaFollower.openid == openid)
        .values(following=False, unfollowed_at=now)
    )
    session.commit()


def set_unionid(session: Session, openid: str, unionid: str | None) -> None:
    if unionid:
        session.execute(
            update(OaFollower).where(OaFollower.openid == openid).values(unionid=unionid)
        )
        session.commit()


def missing_unionid(session: Session, limit: int = 100) -> list[str]:
    return list(
        session.execute(
            select(OaFollower.openid)
            .where(OaFollower.unionid.is_(None), OaFollower.following.is_(True))
            .limit(limit)
        ).scalars()
    )


def linked_member(session: Session, openid: str) -> Member | None:
    """The member behind a follower, by unionid (openids differ between the two apps)."""
    unionid = session.execute(
        select(OaFollower.unionid).where(OaFollower.openid == openid)
    ).scalar_one_or_none()
    if not unionid:
        return None
    return session.execute(select(Member).where(Member.unionid == unionid)).scalar_one_or_none()


def points_reply(session: Session, openid: str, today: date) -> str:
    """The answer to 积分: the linked member's balance and what expires in the next 30 days."""
    member = linked_member(session, openid)
    if member is None:
        return "还没有找到您的会员账户：请先在小程序中登录会员，再回复“积分”查询。"
    lines = [f"您的积分余额：{member.points_balance}"]
    soon = expiring_summary(session, member.id, today)
    if soon:
        for item in soon[:3]:
            day = item["expires_on"]
            lines.append(f"{day.month}月{day.day}日将过期：{item['points']}积分")
    else:
        lines.append("近30天没有将过期的积分。")
    return "\n".join(lines)


def template_delivery(session: Session, msgid: int, status: str) -> None:
    """WeChat's TEMPLATESENDJOBFINISH: record whether the template message reached the user."""
    session.execute(
        update(OutboxMessage).where(OutboxMessage.msgid == msgid).values(delivery=status[:64])
    )
    session.commit()
