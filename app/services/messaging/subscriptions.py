"""Subscribe-message consent: each acceptance in wx.requestSubscribeMessage is one send."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app import clock
from app.models.base import insert_ignore
from app.models.messaging import SubscriptionQuota


def record_result(
    session: Session,
    member_id: int,
    accepted: list[str],
    rejected: list[str],
    now: datetime | None = None,
) -> dict[str, int]:
    """Add one send to the member's quota per accepted template; answer every quota they hold.

    A rejection changes nothing: sends already allowed stay allowed (WeChat keeps them too).
    """
    now = now or clock.now()
    for template_id in accepted:
        insert_ignore(
            session,
            SubscriptionQuota,
            {
                "member_id": member_id,
                "template_id": template_id,
                "available": 0,
                "accepted_total": 0,
                "updated_at": now,
            },
            "member_id",
            "template_id",
        )
        session.execute(
            update(SubscriptionQuota)
            .where(
                SubscriptionQuota.member_id == member_id,
                SubscriptionQuota.template_id == template_id,
            )
            .values(
                available=SubscriptionQuota.available + 1,
                accepted_total=SubscriptionQuota.accepted_total + 1,
                updated_at=now,
            )
        )
    return quotas(session, member_id, set(accepted) | set(rejected))


def quotas(session: Session, member_id: int, also: set[str] | None = None) -> dict[str, int]:
    """Sends available per template (templates named in `also` are listed even at 0)."""
    rows = session.execute(
        select(SubscriptionQuota.template_id, SubscriptionQuota.available).where(
            SubscriptionQuota.member_id == member_id
        )
    ).all()
    answer = dict.fromkeys(also or (), 0)
    answer.update({template_id: available for template_id, available in rows})
    return answer


def take_one(session: Session, member_id: int, template_id: str) -> bool:
    """Use one allowed send (atomically); False when none is left."""
    taken = session.execute(
        update(SubscriptionQuota)
        .where(
            SubscriptionQuota.member_id == member_id,
            SubscriptionQuota.template_id == template_id,
            SubscriptionQuota.available > 0,
        )
        .values(available=SubscriptionQuota.available - 1)
        .returning(SubscriptionQuota.available)
    ).first()
    return taken is not None


_TAKE_MANY = text(
    """
    UPDATE subscription_quotas q SET available = q.available - 1
    FROM unnest(CAST(:members AS bigint[]), CAST(:templates AS text[])) AS w(member_id, template_id)
    WHERE q.member_id = w.member_id AND q.template_id = w.template_id AND q.available > 0
    RETURNING q.member_id, q.template_id
    """
)


def take_many(session: Session, pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """`take_one` for several distinct (member, template) pairs in one statement; the pairs that
    had a send left (and now have one less)."""
    if not pairs:
        return set()
    taken = session.execute(
        _TAKE_MANY, {"members": [m for m, _ in pairs], "templates": [t for _, t in pairs]}
    ).all()
    return {(member_id, template_id) for member_id, template_id in taken}


def give_back(session: Session, member_id: int, template_id: str) -> None:
    """Return a send that WeChat did not use (the message was refused for another reason)."""
    session.execute(
        update(SubscriptionQuota)
        .where(
            SubscriptionQuota.member_id == member_id,
            SubscriptionQuota.template_id == template_id,
        )
        .values(available=SubscriptionQuota.available + 1)
    )


def use_up(session: Session, member_id: int, template_id: str) -> None:
    """WeChat said 43101 (no quota): its word is final, ours goes to zero."""
    session.execute(
        update(SubscriptionQuota)
        .where(
            SubscriptionQuota.member_id == member_id,
            SubscriptionQuota.template_id == template_id,
        )
        .values(available=0)
    )
