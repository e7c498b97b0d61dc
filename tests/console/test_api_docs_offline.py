"""/docs in a browser with no network beyond the app: Swagger UI renders the operations."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest


@pytest.mark.parametrize("width", ["desktop"], indirect=True)
def test_docs_render_the_operations_without_internet(page, live_server):
    local = urlparse(live_server).netloc
    outside: list[str] = []

    def only_the_app(route):
        if urlparse(route.request.url).netloc == local:
            route.continue_()
        else:  # the network is off: anything else fails, as it would offline
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_app)
    page.goto("/docs")
    # Swagger UI renders the operations progressively: wait for them all, not the first.
    page.wait_for_function("document.querySelectorAll('.opblock').length > 50", timeout=30_000)
    assert page.locator(".opblock").count() > 50
    assert page.get_by_text("/api/v1/checkins", exact=True).count() >= 1
    assert page.locator(".opblock-summary-path", has_text="/_sandbox/clock").count() == 3
    assert outside == []
    assert page.js_errors == []
