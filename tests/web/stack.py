"""A real crmsync for the browser: the service (with its embedded worker) and one CRM emulator,
each served by uvicorn on a free port, plus the steps a user takes in Chromium."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from cryptography.fernet import Fernet
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from crmsync.cli.demo import emulated_settings
from crmsync.cli.serving import ServerThread, free_port
from crmsync.emulation.harness import EmulatorHarness
from crmsync.providers.emulators import emulator, name_requesting_app
from crmsync.service import Service, build_service
from crmsync.settings import Settings
from tests.support.consent import FormParser

SHOTS = Path(
    os.environ.get("CRMSYNC_SCREENSHOTS")
    or Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
)
"""Where screenshots go: artifacts/screenshots/ (not committed), or ``$CRMSYNC_SCREENSHOTS``."""
ADMIN = ("u-admin", "admin@acme.test", "Ada Admin", "admin")
MEMBER = ("u-member", "member@acme.test", "Max Member", "member")
PASSWORD = "correct horse battery"


def today() -> str:
    now = datetime.now(UTC)
    return f"{now.day} {now:%b %Y}"


class Stack:
    def __init__(self, provider: str, data_dir: Path) -> None:
        self.provider = provider
        self.harness: EmulatorHarness = emulator(provider)(served=True, rate_limited=False)
        self.emulator = ServerThread(self.harness.app).start()
        self.harness.add_user(ADMIN[1], "Ada", "Admin")
        port = free_port()
        self.api_key = "csk_test_" + secrets.token_urlsafe(8)
        overrides = emulated_settings(provider, self.harness, self.emulator.url)
        self.settings = Settings(
            data_dir=data_dir,
            encryption_key=Fernet.generate_key().decode(),
            public_url=f"http://127.0.0.1:{port}",
            host_api_keys=[self.api_key],
            retry_base_seconds=0.05,
            retry_max_seconds=0.2,
            http_retry_base_seconds=0.0,
            provider_overrides={provider: overrides},
        )
        name_requesting_app(self.harness, self.settings.app_name)
        self.service: Service = build_service(self.settings)
        self.server = ServerThread(self.service.app, port=port).start()
        self.url = self.server.url
        self.api = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=30
        )
        self.name = self.service.runtime.spec(provider).display_name
        self.org()

    # -- the host application -------------------------------------------------------------
    def ok(self, response: httpx.Response) -> Any:
        assert response.status_code < 400, f"{response.request.url}: {response.text}"
        return response.json()

    def org(self) -> None:
        self.ok(self.api.post("/api/v1/orgs", json={"id": "acme", "name": "Acme Robotics"}))
        for user_id, email, name, role in (ADMIN, MEMBER):
            body = {"id": user_id, "email": email, "name": name, "role": role}
            self.ok(self.api.post("/api/v1/orgs/acme/users", json={**body, "password": PASSWORD}))

    def people(self, start: int, count: int, **fields: Any) -> list[str]:
        ids = []
        for i in range(start, start + count):
            person_id = f"p-{i:03d}"
            body = {
                "first_name": ["Grace", "Alan", "Ada", "Edsger", "Barbara"][i % 5],
                "last_name": f"Tester{i}",
                "emails": [f"person{i}@example.com"],
                "company": "Analytical Engines",
                "title": "Engineer",
                **fields,
            }
            self.ok(self.api.put(f"/api/v1/people/{person_id}", json=body))
            ids.append(person_id)
        body = [{"person_id": p, "unlocked_by": ADMIN[0]} for p in ids]
        self.ok(self.api.post("/api/v1/orgs/acme/unlocks", json=body))
        return ids

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.ok(self.api.get("/api/v1/orgs/acme/connection"))
        return result

    def wait(self, check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")

    def wait_synced(self, count: int) -> None:
        def done() -> bool:
            s = self.status()
            return s["counts"]["pending"] == 0 and s["counts"]["synced"] >= count

        self.wait(done, f"{count} people synced")

    def connect_by_api(self) -> None:
        """Connect without the UI (for tests about what comes after), as the demo does."""
        start = self.ok(
            self.api.post("/api/v1/orgs/acme/connection", json={"provider": self.provider})
        )
        with httpx.Client(timeout=30) as browser:
            page = browser.get(start["authorize_url"])
            form = FormParser()
            form.feed(page.text)
            data = dict(form.fields)
            for name, values in form.options.items():
                data.setdefault(name, values[0])
            data.update(self.harness.consent_choices)
            data["decision"] = "allow"
            target = urljoin(str(page.url), form.action or str(page.url))
            answer = browser.post(target, data=data)
            callback = browser.get(answer.headers["location"])
            assert callback.status_code == 200, callback.text

    def close(self) -> None:
        self.api.close()
        self.server.stop()
        self.emulator.stop()


# -- what a user does in the browser --------------------------------------------------------
def shot(page: Page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def sign_in(page: Page, stack: Stack, email: str, screenshot: str | None = None) -> None:
    page.goto(f"{stack.url}/settings/integrations")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    if screenshot:
        shot(page, screenshot)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{stack.url}/settings/integrations")


def consent_in_popup(
    popup: Page, stack: Stack, screenshot: str | None = None, pick_last: bool = False
) -> None:
    """The CRM's consent page, in the real popup: choose (e.g. a location) and Allow.

    ``pick_last`` chooses the last account offered rather than the preselected first one."""
    allow = popup.locator("button[value=allow]")
    allow.wait_for(timeout=15_000)
    if pick_last and popup.locator("input[type=radio]").count() > 1:
        popup.locator("input[type=radio]").last.check()
    for name, value in stack.harness.consent_choices.items():
        choice = popup.locator(f"[name='{name}'][value='{value}']")
        if choice.count():
            choice.check()
        else:
            popup.locator(f"select[name='{name}']").select_option(value)
    if screenshot:
        shot(popup, screenshot)
    try:
        with popup.expect_event("close", timeout=30_000):
            allow.click()
    except PlaywrightTimeoutError:
        text = popup.locator("body").inner_text()
        raise AssertionError(f"the popup stayed open at {popup.url}: {text}") from None


def authorize_from(
    page: Page, stack: Stack, button: Any, screenshot: str | None = None, pick_last: bool = False
) -> None:
    """Click Connect/Reconnect; walk the provider's step-by-step guide if it has one; consent."""
    guide_id = button.evaluate("b => (b.form && b.form.dataset.steps) || ''")
    with page.expect_popup(timeout=15_000) as opened:
        button.click()
        if guide_id:
            guide = page.locator(f"#{guide_id}")
            expect(guide).to_be_visible()
            if screenshot:
                shot(page, f"{screenshot}-guide", full_page=False)
            while guide.locator("[data-step-next]").is_visible():
                guide.locator("[data-step-next]").click()
            guide.locator("[data-step-go]").click()
    consent_in_popup(opened.value, stack, screenshot, pick_last)
