"""The zero-setup default: the embedded Redis stand-in supports everything the app does."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def embedded_app(app):
    """An app on the test database whose Redis is fakeredis served over TCP (as `make run`)."""
    from app import create_app
    from app.embedded_redis import start_embedded_redis

    url, server = start_embedded_redis()
    config = dict(app.config)
    config.update({"REDIS_URL": url, "RATELIMIT_STORAGE_URI": url})
    yield create_app(config)
    server.shutdown()
    _rebind_limiter(app)


def _rebind_limiter(app) -> None:
    # Flask-Limiter keeps one storage per Limiter instance: point it back at the test app's.
    from app.extensions import limiter

    limiter.init_app(app)


def test_rate_limits_leases_and_tokens_work_on_embedded_redis(embedded_app, make_staff):
    from jobs.scheduler import Lease

    clerk = make_staff("clerk")
    client = embedded_app.test_client()
    statuses = [
        client.post(
            "/staff/v1/auth/login", json={"username": clerk.username, "password": "bad"}
        ).status_code
        for _ in range(6)
    ]
    assert statuses[-1] == 429
    with embedded_app.app_context():
        lease = Lease("embedded-test")
        assert lease.acquire() and lease.renew()
        lease.release()


def test_in_process_fakeredis_when_redis_url_is_unset(app):
    from app import create_app
    from app.extensions import get_redis

    config = dict(app.config)
    config["REDIS_URL"] = None
    config["RATELIMIT_STORAGE_URI"] = "memory://"
    embedded = create_app(config)
    try:
        with embedded.app_context():
            assert embedded.extensions["huiyuan_redis"].embedded is True
            assert get_redis().eval("return 1", 0) == 1
            assert embedded.test_client().get("/healthz").get_json()["redis"] == "ok"
    finally:
        _rebind_limiter(app)


def test_an_error_reply_keeps_the_connection_open_as_redis_does():
    import redis

    from app.embedded_redis import start_embedded_redis

    url, server = start_embedded_redis()
    try:
        client = redis.Redis.from_url(url, single_connection_client=True, retry=None)
        with pytest.raises(redis.exceptions.NoScriptError):
            client.evalsha("0" * 40, 0)
        assert client.ping() is True
        script = client.register_script("return redis.call('incr', KEYS[1])")
        assert script(keys=["n"]) == 1
    finally:
        server.shutdown()


def test_run_once_from_another_shell_finds_make_runs_embedded_redis(
    embedded_app, session, tmp_path
):
    """`make run` writes its embedded Redis's URL under instance/; a `flask jobs run-once` from
    another shell (no REDIS_URL) reads it, and so runs on the sandbox clock set through it."""
    import subprocess
    import sys
    from datetime import date, datetime
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from app import clock
    from app.config import EMBEDDED_REDIS_FILE, embedded_redis_url
    from app.models.jobs import JobRun
    from tests.conftest import sandbox_process_env

    (tmp_path / EMBEDDED_REDIS_FILE).write_text(embedded_app.config["REDIS_URL"] + "\n")
    assert embedded_redis_url(tmp_path) == embedded_app.config["REDIS_URL"]
    with embedded_app.app_context():
        clock.set_sandbox_now(datetime(2031, 7, 1, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai")))
    env = sandbox_process_env(embedded_app, INSTANCE_DIR=str(tmp_path))
    for name in ("REDIS_URL", "TESTING"):  # a developer's shell: SANDBOX=1 and nothing else
        env.pop(name)
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run-once", "points_expiry"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    run = session.execute(select(JobRun).where(JobRun.name == "points_expiry")).scalar_one()
    assert run.as_of.astimezone(ZoneInfo("Asia/Shanghai")).date() == date(2031, 7, 1)


def test_a_stale_embedded_redis_file_is_ignored(tmp_path):
    import socket

    from app.config import EMBEDDED_REDIS_FILE, embedded_redis_url, load_settings

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / EMBEDDED_REDIS_FILE).write_text(f"redis://127.0.0.1:{port}/0\n")
    assert embedded_redis_url(tmp_path) is None
    assert load_settings({"SANDBOX": "1", "INSTANCE_DIR": str(tmp_path)}).REDIS_URL is None
