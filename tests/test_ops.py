from __future__ import annotations

import pytest


def test_healthz_reports_database_and_redis_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert response.headers["X-Request-Id"]


def test_healthz_is_503_when_redis_is_down(app, client, monkeypatch):
    import redis

    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(app.extensions["huiyuan_redis"], "health_client", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["redis"] == "down"
    assert response.get_json()["database"] == "ok"


def test_healthz_is_503_when_database_is_down(app, client, monkeypatch):
    import sqlalchemy as sa

    dead = sa.create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    # /healthz checks the database on a small pool of its own (app/ops.py).
    monkeypatch.setitem(app.extensions, "huiyuan_health_engine", dead)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "down"


def test_unknown_path_uses_contract_error_body(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"]["code"] == "not_found"
    assert set(body["error"]) == {"code", "message", "details"}


def test_wrong_method_is_405_with_contract_body(client):
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method.not_allowed"


def test_openapi_document_and_docs_page(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/healthz" in spec["paths"]
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert b"swagger" in docs.data.lower()


def test_secret_key_is_required_outside_sandbox_and_tests():
    from app.config import ConfigError, load_settings

    production = {
        "DATABASE_URL": "postgresql://db.internal/huiyuan",
        "WECHAT_MINIAPP_APPID": "wx1",
        "WECHAT_MINIAPP_SECRET": "s",
        "DATA_ENCRYPTION_KEY": "A" * 43 + "=",
        "PHONE_HASH_KEY": "h" * 32,
    }
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(production)
    settings = load_settings({**production, "SECRET_KEY": "x" * 32})
    assert settings.SECRET_KEY == "x" * 32
    assert load_settings({"SANDBOX": "1"}).SANDBOX is True


def test_production_names_its_database():
    from app.config import ConfigError, load_settings

    env = {"SECRET_KEY": "x" * 32, "WECHAT_MINIAPP_APPID": "wx1", "WECHAT_MINIAPP_SECRET": "s"}
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings(env)
    # The sandbox and the tests may use the embedded server (None: app.embedded_postgres).
    assert load_settings({"SANDBOX": "1"}).DATABASE_URL is None


def test_bad_business_timezone_refuses_to_start():
    from app.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="BUSINESS_TZ"):
        load_settings({"SANDBOX": "1", "BUSINESS_TZ": "Mars/Olympus"})
