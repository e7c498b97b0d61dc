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
