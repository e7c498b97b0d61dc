"""Every request's database work is bounded (app/db_timeouts.py): a lock held by a stuck
transaction costs a request the lock timeout and a 503, not an endless wait; job sessions get the
job limits instead (their statements may legitimately run for minutes)."""

from __future__ import annotations

import time

import pytest
import requests
import sqlalchemy as sa

from app.config import ConfigError, load_settings
from app.db_timeouts import SessionTimeouts, job_timeouts


def _limits(engine) -> tuple[str, str, str]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(sa.text(f"SHOW {name}")).scalar_one()
            for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
        )


def test_a_request_behind_a_stuck_lock_answers_503_after_the_lock_timeout(
    live_server, database_url, make_member, member_headers, session
):
    from app.models import Member

    member = make_member()
    headers = member_headers(member)
    session.remove()
    stuck = sa.create_engine(database_url, poolclass=sa.NullPool)
    with stuck.connect() as holder:
        # A transaction that holds the member's row and never ends (until the test ends it).
        holder.execute(sa.select(Member.id).where(Member.id == member.id).with_for_update())
        started = time.monotonic()
        try:
            response = requests.post(live_server + "/api/v1/checkins", headers=headers, timeout=15)
            status = response.status_code
        except requests.Timeout:
            status = "timeout"
        seconds = time.monotonic() - started
        holder.rollback()
    stuck.dispose()
    print(f"\n[timeouts] check-in behind a held lock: {status} in {seconds:.2f}s")
    assert status == 503, status
    assert response.json()["error"]["code"] == "service.unavailable"
    assert 2.5 < seconds < 6
    # Once the lock is gone, the same check-in goes through.
    again = requests.post(live_server + "/api/v1/checkins", headers=headers, timeout=15)
    assert again.status_code == 201, again.text


def test_api_sessions_have_the_api_limits_and_jobs_the_job_limits_while_they_run(app):
    from app.extensions import db

    with app.app_context():
        assert _limits(db.engine) == ("5s", "3s", "30s")
        with job_timeouts(app):
            # A nightly refresh's statements may take minutes; its lock connection idles in its
            # transaction for the whole night.
            assert _limits(db.engine) == ("30min", "0", "0")
            with db.engine.connect() as conn:
                assert conn.execute(sa.text("SELECT pg_sleep(5.5), 1")).one()[1] == 1
        # A command run inside a process (here, the tests') leaves it with the API's limits.
        assert _limits(db.engine) == ("5s", "3s", "30s")


def test_an_import_command_leaves_the_process_with_the_api_limits(app, tmp_path):
    from app.extensions import db

    empty = tmp_path / "orders.csv"
    empty.write_text("order_no,store_code,phone,paid_at,amount_fen\n")
    result = app.test_cli_runner().invoke(args=["orders", "import", str(empty), "--format", "csv"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert _limits(db.engine) == ("5s", "3s", "30s")


def test_the_client_gives_up_after_the_servers_own_limit():
    assert SessionTimeouts(5, 3, 30).answer_within == 6
    assert SessionTimeouts(0).answer_within is None  # a job with no statement limit


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_STATEMENT_TIMEOUT", "0"),
        ("DB_STATEMENT_TIMEOUT", "soon"),
        ("DB_LOCK_TIMEOUT", "-1"),
        ("DB_CONNECT_TIMEOUT", "0"),
        ("HEALTH_TIMEOUT", "nan"),
        ("REDIS_SOCKET_TIMEOUT", "inf"),
    ],
)
def test_unusable_time_limits_refuse_to_start(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({"SANDBOX": "1", name: value})


def test_time_limits_come_from_the_environment():
    settings = load_settings(
        {"SANDBOX": "1", "DB_STATEMENT_TIMEOUT": "2.5", "DB_JOB_STATEMENT_TIMEOUT": "0"}
    )
    flask = settings.as_flask()
    assert flask["DB_API_TIMEOUTS"]["statement"] == 2.5
    assert flask["DB_JOB_TIMEOUTS"] == {"statement": 0}
    assert flask["DB_LIBPQ_PARAMS"]["tcp_user_timeout"] == 15_000
