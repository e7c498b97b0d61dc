"""Members: WeChat sign-in, phone binding, the profile a member sees, a store's correction of a
birthday."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import clock, encryption
from app.errors import AppError
from app.models import Member, Staff, Store
from app.models.base import insert_ignore
from app.models.segments import MemberSegment
from app.models.till import Purchase
from app.services import identifiers, signups
from app.services.identifiers import normalise_phone
from app.services.members import member_summary, signup_hooks
from app.services.staff import audit, store_scope
from app.services.till.scans import till_member
from app.wechat import client as wechat


class LookedUpMember(NamedTuple):
    """A `till.scans.TillMember` and the member's segment (None until the nightly refresh)."""

    member: Member
    tier: dict
    coupons: list
    pickups: list
    paid_membership: dict | None
    segment: MemberSegment | None


def sign_in(
    session: Session,
    js_code: str,
    referral_code: str | None = None,
    store_id: int | None = None,
    staff_code: str | None = None,
) -> tuple[Member, bool]:
    """Sign a shopper in with a wx.login code; the first sign-in creates the member, credited to
    a staff member and a store by services.signups (an existing member is never re-credited).

    Twenty simultaneous first sign-ins of one WeChat user create one member: the unique openid
    decides, and only the request whose insert won sees `is_new`.
    """
    try:
        info = wechat.code_to_session(js_code)
    except (wechat.WeChatAPIError, wechat.WeChatUnavailable) as exc:
        raise wechat.as_app_error(exc) from exc
    openid, unionid = info["openid"], info.get("unionid") or None
    is_new = False
    member = _by_openid(session, openid)
    if member is None:
        credit = signups.attribution(session, staff_code, _known_store(session, store_id), unionid)
        is_new = _create(session, openid, unionid, credit)
        member = _by_openid(session, openid)
    # The session_key stays here, encrypted: never returned, never logged.
    session_key = info.get("session_key")
    values: dict = {
        "session_key_encrypted": encryption.encrypt(session_key) if session_key else None
    }
    if unionid and member.unionid is None and _unionid_free(session, unionid):
        values["unionid"] = unionid
    session.execute(update(Member).where(Member.id == member.id).values(**values))
    if is_new:
        on_member_created(session, member, referral_code, unionid)
    session.commit()
    session.refresh(member)
    return member, is_new


def _by_openid(session: Session, openid: str) -> Member | None:
    return session.execute(select(Member).where(Member.openid == openid)).scalar_one_or_none()


def _unionid_free(session: Session, unionid: str) -> bool:
    return session.execute(select(Member.id).where(Member.unionid == unionid)).first() is None


def _known_store(session: Session, store_id: int | None) -> int | None:
    # An unknown or closed store in a QR code must not stop a shopper signing up: ignore it.
    if store_id is None:
        return None
    store = session.get(Store, store_id)
    return store.id if store is not None and store.is_active else None


def _create(session: Session, openid: str, unionid: str | None, credit: signups.SignedUpBy) -> bool:
    """Insert the member unless another request already did; True when this one did."""
    for _ in range(5):
        values = {
            "member_no": identifiers.new_member_no(),
            "openid": openid,
            "unionid": unionid if unionid and _unionid_free(session, unionid) else None,
            "referral_code": identifiers.new_referral_code(),
            "store_id": credit.store_id,
            "signed_up_by_staff_id": credit.staff_id,
            "joined_at": clock.now(),
            "updated_at": clock.now(),
            "nickname": "",
            "avatar_url": "",
            "gender": 0,
            "tier_code": "",
            "points_balance": 0,
        }
        if insert_ignore(session, Member, values).rowcount == 1:
            session.flush()
            return True
        if _by_openid(session, openid) is not None:
            return False
        # Otherwise a random member_no or referral_code collided: draw again.
    raise AppError("member.create_failed")


def on_member_created(
    session: Session, member: Member, referral_code: str | None, unionid: str | None = None
) -> None:
    """Everything a brand-new member gets, in the sign-up transaction (referrals, gifts)."""

    signup_hooks.run(session, member, referral_code, unionid)


def bind_phone(session: Session, member_id: int, phone_code: str) -> Member:
    """Bind the WeChat-verified phone; a phone belongs to one member (409 member.phone_taken)."""
    member = session.get(Member, member_id)
    if member is None:
        raise AppError("member.not_found")
    try:
        info = wechat.get_phone_number(phone_code)  # billed per call: once per code
    except (wechat.WeChatAPIError, wechat.WeChatUnavailable) as exc:
        raise wechat.as_app_error(exc) from exc
    pure = str(info.get("purePhoneNumber") or info.get("phoneNumber") or "")
    country = str(info.get("countryCode") or "86").lstrip("+")
    phone = pure if country == "86" else f"+{country}{pure}"
    if not pure:
        raise AppError("wechat.error", message="WeChat returned no phone number.")
    if member.phone == phone:
        return member
    try:
        session.execute(
            update(Member)
            .where(Member.id == member_id)
            .values(**encryption.phone_columns(phone), updated_at=clock.now())
        )
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise AppError(
            "member.phone_taken", message="This phone number belongs to another member."
        ) from exc

    signup_hooks.phone_bound(session, member)
    session.commit()
    session.refresh(member)
    return member


def _not_in_the_future(birthday: date) -> None:
    if birthday > clock.business_today():
        raise AppError(
            "request.invalid",
            message="The birthday is in the future.",
            details={"birthday": ["Future."]},
        )


def update_profile(session: Session, member_id: int, changes: dict) -> Member:
    """Change nickname, avatar, gender; the birthday can be set once (it drives birthday gifts):
    a conditional update, so of two first settings at once only one lands."""
    member = session.get(Member, member_id)
    if member is None:
        raise AppError("member.not_found")
    birthday: date | None = changes.get("birthday")
    if birthday is not None:
        _not_in_the_future(birthday)
        set_now = session.execute(
            update(Member)
            .where(
                Member.id == member_id,
                or_(Member.birthday.is_(None), Member.birthday == birthday),
            )
            .values(birthday=birthday)
            .returning(Member.id)
        ).first()
        if set_now is None:
            raise AppError(
                "member.birthday_locked", message="The birthday is set; ask a store to change it."
            )
    for field in ("nickname", "avatar_url", "gender"):
        if field in changes and changes[field] is not None:
            setattr(member, field, changes[field])
    session.commit()
    return member


def correct_birthday(session: Session, staff: Staff, member_id: int, birthday: date) -> Member:
    """A store corrects a member's birthday (managers: their own store's members; marketers and
    admins: any), recorded in the audit trail with what it was. A gift already given this year
    stays the only one (its ref names the member and the year). The caller commits."""
    _not_in_the_future(birthday)
    members, before = Member.__table__, Member.__table__.alias("before")
    statement = (
        update(members)
        .where(
            members.c.id == member_id,
            members.c.closed_at.is_(None),
            before.c.id == members.c.id,
        )
        .values(birthday=birthday, updated_at=clock.now())
        .returning(before.c.birthday)
    )
    scope = store_scope(staff)
    if scope is not None:
        statement = statement.where(members.c.store_id == scope)
    changed = session.execute(statement).first()
    if changed is None:
        raise AppError("member.not_found")
    was = changed.birthday
    audit.record(
        session,
        staff,
        "member.birthday_correct",
        "member",
        member_id,
        {"birthday": birthday.isoformat(), "was": was.isoformat() if was else None},
    )
    return session.get(Member, member_id, populate_existing=True)


def profile(session: Session, member_id: int) -> dict:
    """What GET /me shows: identity, tier, points (with what expires soon), check-in, referral;
    one statement (member_summary.profile)."""
    found = member_summary.profile(session, member_id, clock.business_today())
    if found is None:
        raise AppError("member.not_found")
    return found


def find_for_staff(
    session: Session, staff, phone: str | None = None, member_no: str | None = None
) -> list[LookedUpMember]:
    """Members matching a phone or member number that this staff member may see (clerks and
    managers: those who signed up at their store or have bought there), each with their segment
    (stage, RFM group, odds of still buying) from the last nightly refresh."""

    query = select(Member).where(Member.closed_at.is_(None))
    if phone:
        query = query.where(Member.phone_hash == encryption.phone_hash(normalise_phone(phone)))
    if member_no:
        query = query.where(Member.member_no == member_no)
    store_id = store_scope(staff)
    if store_id is not None:
        bought_here = exists().where(Purchase.member_id == Member.id, Purchase.store_id == store_id)
        query = query.where(or_(Member.store_id == store_id, bought_here))
    now = clock.now()
    found = session.execute(query.limit(20)).scalars().all()
    segments = {
        s.member_id: s
        for s in session.execute(
            select(MemberSegment).where(MemberSegment.member_id.in_([m.id for m in found]))
        ).scalars()
    }
    return [LookedUpMember(*till_member(session, m, now), segments.get(m.id)) for m in found]
