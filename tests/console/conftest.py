"""Browser fixtures: Debian's Chromium driven by Playwright against the live server.

Without /usr/bin/chromium (or the playwright package) the browser tests skip, unless the
environment variable CI is set: then they fail, so a CI machine cannot pass them by omission.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WIDTHS = {
    "phone": {"width": 375, "height": 812},
    "desktop": {"width": 1280, "height": 860},
}
PASSWORD = "pass-1234"  # the factories' password (tests/conftest.py make_staff)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run on CI: {reason}")
    pytest.skip(
        f"browser tests skipped: {reason} (apt-get install chromium; with CI set this fails)"
    )


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is absent")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (requirements-dev.txt)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(params=list(WIDTHS))
def width(request) -> str:
    return request.param


@pytest.fixture
def page(browser, width, live_server) -> Iterator:
    context = browser.new_context(
        viewport=WIDTHS[width],
        base_url=live_server,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",  # the business time zone: datetime inputs mean Beijing time
        has_touch=width == "phone",
        is_mobile=width == "phone",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def shot(page, width, request):
    """Save a screenshot under test-artifacts/console/<test>-<step>-<width>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"\[.*\]$", "", request.node.name).removeprefix("test_")

    def take(step: str) -> Path:
        path = ARTIFACTS / f"{test}-{step}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def sign_in(page):
    def do(staff, next_path: str = "/console/") -> None:
        page.goto(next_path)
        page.fill("input[name=username]", staff.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("form[data-testid=login-form] button[type=submit]")
        page.wait_for_load_state("networkidle")

    return do
