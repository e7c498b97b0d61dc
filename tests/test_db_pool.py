"""Pooled connections that the database dropped: replaced before use when idle, one 503 at most
when the database went away in the moment between two requests."""

from __future__ import annotations

import time

import requests
import sqlalchemy as sa

from app import db_pool


def _drop_every_app_connection(database_url: str) -> int:
    """What a database restart or an idle timeout does to the pool: every backend of the test
    database but this one is terminated."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    engine.dispose()
    return killed


# Over real HTTP: each request has its own app context, and gives its connection back at the end.
def _me(live_server, headers):
    return requests.get(live_server + "/api/v1/me", headers=headers, timeout=10)


def _check_in(live_server, headers):
    return requests.post(live_server + "/api/v1/checkins", headers=headers, timeout=10)


def test_a_connection_dropped_while_idle_is_replaced_before_a_request_uses_it(
    live_server, database_url, make_member, member_headers, session
):
    headers = member_headers(make_member())
    session.remove()
    assert _me(live_server, headers).status_code == 200  # the pool is warm
    assert _drop_every_app_connection(database_url) >= 1
    time.sleep(db_pool.IDLE_PING_SECONDS + 0.2)

    response = _check_in(live_server, headers)

    assert response.status_code == 201, response.json()
    assert response.json()["points_awarded"] == 5


def test_a_connection_dropped_moments_after_use_costs_one_503_then_the_pool_is_renewed(
    live_server, database_url, make_member, member_headers, session
):
    from app.models import Member

    member = make_member()
    headers = member_headers(member)
    session.remove()
    assert _me(live_server, headers).status_code == 200
    assert _drop_every_app_connection(database_url) >= 1

    answers = [_check_in(live_server, headers) for _ in range(2)]

    # At most the first request meets a dead connection: it answers 503, never a 500, and the
    # disconnect renews the whole pool, so the retry is served and pays exactly once.
    statuses = [a.status_code for a in answers]
    assert statuses in ([201, 409], [503, 201]), statuses
    if statuses[0] == 503:
        assert answers[0].json()["error"]["code"] == "service.unavailable"
    session.expire_all()
    assert session.get(Member, member.id).points_balance == 5
