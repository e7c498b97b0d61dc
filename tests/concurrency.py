"""Fire many real HTTP requests at the live server at once (a pool of keep-alive clients)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests


def fire(calls: list[Callable[[requests.Session], requests.Response]], clients: int = 48):
    """Run every call from `clients` threads, each with its own requests.Session; returns the
    responses in order. A barrier holds the first wave so that they really start together."""
    local = threading.local()
    barrier = threading.Barrier(min(clients, len(calls)))

    def run(indexed):
        index, call = indexed
        if not hasattr(local, "session"):
            local.session = requests.Session()
            if index < barrier.parties:
                barrier.wait()
        return call(local.session)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(run, enumerate(calls)))


def bulk_members(session, count: int, points: int = 0) -> list[int]:
    """Insert `count` members directly (faster than the factory) and return their ids."""
    import secrets

    from app.models import Member

    tag = secrets.token_hex(3)
    rows = [
        {
            "member_no": f"7{tag}{i:05d}"[:12],
            "openid": f"bulk-{tag}-{i}",
            "referral_code": f"Q{tag}{i:05d}"[:16],
            "nickname": f"m{i}",
            "avatar_url": "",
            "gender": 0,
            "tier_code": "",
            "points_balance": 0,
        }
        for i in range(count)
    ]
    session.execute(Member.__table__.insert(), rows)
    session.commit()
    ids = [m for (m,) in session.query(Member.id).filter(Member.openid.like(f"bulk-{tag}-%")).all()]
    if points:
        from app.services import ledger

        for member_id in ids:
            ledger.earn(session, member_id, points, reason="adjustment", ref=f"seed:{member_id}")
        session.commit()
    return ids


def member_auth(member_id: int) -> dict:
    from app.auth import issue_member_token

    return {"Authorization": "Bearer " + issue_member_token(member_id)[0]}
