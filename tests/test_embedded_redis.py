"""The zero-setup default: the embedded Redis stand-in supports everything the app does."""

from __future__ import annotations

import threading

import pytest


@pytest.fixture(scope="module")
def embedded_app(app):
    """An app on the test database whose Redis is fakeredis served over TCP (as `make run`)."""
    import socket

    from fakeredis import TcpFakeServer

    from app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"redis://127.0.0.1:{port}/0"
    _wait_until_serving(url)
    config = dict(app.config)
    config.update({"REDIS_URL": url, "RATELIMIT_STORAGE_URI": url})
    yield create_app(config)
    server.shutdown()
    _rebind_limiter(app)


def _wait_until_serving(url: str) -> None:
    import time

    import redis

    probe = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            probe.ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


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
