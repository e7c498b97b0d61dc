from __future__ import annotations


def _sample(text: str, name: str, **labels) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_by_route_template_and_status(client):
    before = _sample(
        client.get("/metrics").get_data(as_text=True),
        "huiyuan_http_requests_total",
        endpoint="/healthz",
        status="200",
    )
    client.get("/healthz")
    client.get("/healthz")
    client.get("/nope/123")
    text = client.get("/metrics").get_data(as_text=True)
    assert _sample(text, "huiyuan_http_requests_total", endpoint="/healthz", status="200") == (
        before + 2
    )
    assert _sample(text, "huiyuan_http_requests_total", endpoint="unmatched", status="404") >= 1
    assert "huiyuan_http_request_duration_seconds_bucket" in text
    assert "/nope/123" not in text


def test_metrics_token_is_required_when_configured(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-token")
    assert client.get("/metrics").status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200
    assert ok.mimetype == "text/plain"
