"""/docs works offline: the page loads Swagger UI from the app itself, never from a CDN."""

from __future__ import annotations

import re


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_docs_load_swagger_ui_from_the_app_itself(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    urls = _asset_urls(html)
    assert {u.rsplit("/", 1)[-1] for u in urls} >= {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
    }
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "http://" not in html and "https://" not in html
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        kind = "text/css" if url.endswith(".css") else "text/javascript"
        assert asset.mimetype == kind, url
        assert len(asset.data) > 10_000, url
    bundle = client.get(next(u for u in urls if u.endswith("swagger-ui-bundle.js"))).data
    assert b"SwaggerUIBundle" in bundle
    assert client.get("/openapi.json").status_code == 200


def test_an_unknown_asset_is_a_404(client):
    assert client.get("/docs/assets/nope.js").status_code == 404
    assert client.get("/docs/assets/../../config.py").status_code == 404
