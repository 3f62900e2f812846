"""Fixtures for the admin UI: Debian's Chromium through Playwright, and a served crmsync."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from crmsync.providers.catalog import BUILTIN
from tests.web.stack import ADMIN, MEMBER, Stack, sign_in

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module-scoped, not session-scoped: Playwright's sync API keeps an event loop running in
    this thread while it is open, which would break other modules' ``asyncio.run`` calls."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true" or os.environ.get("CRMSYNC_REQUIRE_PG") == "1":
            pytest.fail(f"{CHROMIUM} is required (apt-get install -y chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(params=sorted(p.name for p in BUILTIN))
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """crmsync (embedded worker, SQLite) and this provider's emulator, both served."""
    instance = Stack(request.param, tmp_path)
    try:
        yield instance
    finally:
        instance.close()


def new_context(browser: Browser, width: int = 1280, height: int = 900) -> BrowserContext:
    return browser.new_context(
        viewport={"width": width, "height": height}, locale="en-GB", timezone_id="UTC"
    )


def _signed_in(browser: Browser, stack: Stack, email: str) -> Iterator[Page]:
    context = new_context(browser)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []  # script errors and Content-Security-Policy violations
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, stack, email)
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def admin_page(browser: Browser, stack: Stack) -> Iterator[Page]:
    yield from _signed_in(browser, stack, ADMIN[1])


@pytest.fixture
def member_page(browser: Browser, stack: Stack) -> Iterator[Page]:
    yield from _signed_in(browser, stack, MEMBER[1])


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A phone-sized browser (sign in with ``sign_in``)."""
    context = new_context(browser, 390, 844)
    context.set_default_timeout(20_000)
    yield context
    context.close()
