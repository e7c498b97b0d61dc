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
    # Every group is listed, folded (docExpansion none: Swagger UI 5 stops drawing a page of
    # more than about 110 unfolded operations, without an error); unfolding draws its operations.
    page.wait_for_selector(".opblock-tag", timeout=20_000)
    assert page.locator(".opblock-tag").count() >= 35
    for tag in ("checkins", "sandbox", "admin_analytics", "pos_purchases"):
        page.locator(f"#operations-tag-{tag}").click()
    page.wait_for_selector('.opblock-summary-path:has-text("/_sandbox/clock")')
    assert page.get_by_text("/api/v1/checkins", exact=True).count() >= 1
    assert page.locator(".opblock-summary-path", has_text="/_sandbox/clock").count() == 3
    assert page.locator(".opblock-summary-path", has_text="/staff/v1/admin/analytics/").count() == 4
    assert outside == []
    assert page.js_errors == []
