"""The admin UI in real Chromium against a served crmsync and CRM emulator, for every provider.

Each step saves a screenshot under artifacts/screenshots/: the evidence that the page is right.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from crmsync.connectors.spec import ConnectStep
from crmsync.db.tables import Connection
from crmsync.domain.enums import ConnectionStatus
from crmsync.web import cards
from tests.web.conftest import new_context
from tests.web.stack import (
    ADMIN,
    Stack,
    authorize_from,
    consent_in_popup,
    shot,
    sign_in,
    today,
)


def test_connect_through_the_popup_then_see_it_syncing(
    stack: Stack, admin_page: Page, phone: BrowserContext
) -> None:
    page, name = admin_page, stack.provider
    stack.people(0, 12)  # unlocked before connecting: the backfill
    page.reload()
    tile = page.locator(f"#card-{name}")
    expect(tile.get_by_role("button", name=f"Connect {stack.name}")).to_be_visible()
    expect(tile.get_by_label("Skip historical backfill")).not_to_be_checked()
    expect(tile).to_contain_text("already unlocked 12 people")
    expect(tile).to_contain_text("to change it later you disconnect and connect again")
    shot(page, f"{name}-1-integrations")

    page.evaluate("window.__noReload = true")
    connect = tile.get_by_role("button", name=f"Connect {stack.name}")
    authorize_from(page, stack, connect, f"{name}-2-consent", pick_last=True)  # e.g. a location

    # the card turns Connected, with today's date, without a reload by hand
    expect(tile.locator("[data-status-badge]")).to_have_text("Connected")
    expect(tile.locator("[data-connected-at]")).to_have_text(today())
    assert page.evaluate("window.__noReload") is True
    label = stack.status()["account_label"]
    expect(tile.locator("[data-account]")).to_have_text(label)  # e.g. HighLevel's location
    expect(tile.locator("[data-count=synced]")).to_have_text("12", timeout=30_000)
    expect(tile.locator("[data-count=pending]")).to_have_text("0")
    expect(tile.locator("[data-backfill-text]")).to_have_text("12 of 12 people")
    for other in page.locator(".card:not(.card-active)").all():
        expect(other).to_contain_text("requires disconnecting")
    shot(page, f"{name}-3-connected")

    # live unlocks are counted as they land, still without a reload
    stack.people(100, 3)
    expect(tile.locator("[data-count=synced]")).to_have_text("15", timeout=30_000)
    assert page.evaluate("window.__noReload") is True

    page.get_by_role("link", name="Integration logs", exact=True).click()
    expect(page.get_by_role("heading", name="Integration logs")).to_be_visible()
    expect(page.locator("table.log tbody tr")).to_have_count(15)
    first = page.locator("table.log tbody tr").first
    expect(first).to_contain_text("p-102")  # newest first
    first.get_by_text("Request and response").click()
    shot(page, f"{name}-4-logs")

    page.get_by_label("Person ID").fill("p-003")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.log tbody tr")).to_have_count(1)
    page.get_by_role("link", name="p-003").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edsger Tester3")
    expect(page.locator(".facts")).to_contain_text(today())
    expect(page.locator("[data-written]")).to_contain_text("Tester3")
    shot(page, f"{name}-5-person")
    if stack.service.runtime.spec(name).record_url:  # the record, in the CRM's (emulated) UI
        with page.expect_popup() as opened:
            page.locator("[data-crm-link]").click()
        record = opened.value
        expect(record.locator("h1")).to_have_text("Edsger Tester3")
        shot(record, f"{name}-5b-crm-record")
        record.close()
    else:  # Close shows a contact on its lead's page: the contact id alone has no address
        expect(page.locator("[data-crm-link]")).to_have_count(0)
        expect(page.locator(".facts")).to_contain_text("has no page address")

    mobile = phone.new_page()
    sign_in(mobile, stack, ADMIN[1], f"{name}-0-phone-signin")
    expect(mobile.locator(f"#card-{name} [data-count=synced]")).to_have_text("15")
    shot(mobile, f"{name}-6-phone-integrations")
    mobile.goto(f"{stack.url}/settings/logs")
    shot(mobile, f"{name}-7-phone-logs", full_page=False)


def test_denying_access_closes_the_popup_and_says_so_on_the_card(
    stack: Stack, admin_page: Page
) -> None:
    page = admin_page
    tile = page.locator(f"#card-{stack.provider}")
    button = tile.get_by_role("button", name=f"Connect {stack.name}")
    guide_id = button.evaluate("b => (b.form && b.form.dataset.steps) || ''")
    with page.expect_popup() as opened:
        button.click()
        if guide_id:
            guide = page.locator(f"#{guide_id}")
            while guide.locator("[data-step-next]").is_visible():
                guide.locator("[data-step-next]").click()
            guide.locator("[data-step-go]").click()
    popup = opened.value
    deny = popup.locator("button[value=deny]")
    deny.wait_for()
    # the app asking for access is named as configured (the emulated CRM's own account
    # names, e.g. admin@crmsync-demo.test, are the CRM's)
    expect(popup.locator("main strong").first).to_have_text("Acme")
    with popup.expect_event("close"):
        deny.click()
    message = tile.locator("[data-card-message]")
    expect(message).to_be_visible()
    expect(message).to_contain_text(f"{stack.name} was not connected")
    expect(message).to_contain_text("choose Connect again and allow access")
    expect(tile.get_by_role("button", name=f"Connect {stack.name}")).to_be_enabled()
    shot(page, f"{stack.provider}-2b-denied", full_page=False)


def test_preserve_edits_is_for_admins_only(
    stack: Stack, admin_page: Page, member_page: Page
) -> None:
    stack.people(0, 3)
    stack.connect_by_api()
    stack.wait_synced(3)
    page = admin_page
    page.reload()
    toggle = page.get_by_role("switch", name="Preserve manual edits on refresh")
    expect(toggle).not_to_be_checked()
    expect(page.locator(f"#card-{stack.provider}")).to_contain_text("are never overwritten")
    toggle.check()
    expect(page.get_by_role("status")).to_have_text("Preserve manual edits is on.")
    expect(page.get_by_role("switch", name="Preserve manual edits on refresh")).to_be_checked()
    assert stack.status()["preserve_manual_edits"] is True
    shot(page, f"{stack.provider}-8-preserve-on")

    member = member_page
    member.reload()
    switch = member.get_by_role("switch", name="Preserve manual edits on refresh")
    expect(switch).to_be_checked()
    expect(switch).to_be_disabled()
    expect(member.get_by_role("button", name="Disconnect")).to_be_disabled()
    expect(member.get_by_role("note")).to_contain_text("Only admins")
    shot(member, f"{stack.provider}-9-member-view")
    # the server refuses even a hand-made request with a valid CSRF token
    token = member.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = member.request.post(
        f"{stack.url}/settings/integrations/preserve-edits",
        form={"csrf_token": token or "", "preserve_manual_edits": ""},
        max_redirects=0,
    )
    assert answer.status == 403
    assert stack.status()["preserve_manual_edits"] is True


def test_the_push_switch_pauses_and_resumes(stack: Stack, admin_page: Page) -> None:
    stack.people(0, 2)
    stack.connect_by_api()
    stack.wait_synced(2)
    page = admin_page
    page.reload()
    switch = page.get_by_role("switch", name=re.compile(r"^Push to "))
    expect(switch).to_be_checked()
    switch.uncheck()
    expect(page.get_by_role("status")).to_contain_text("Pushing to the CRM is off")
    assert stack.status()["push"]["enabled"] is False
    shot(page, f"{stack.provider}-8b-push-off")
    page.get_by_role("switch", name=re.compile(r"^Push to ")).check()
    expect(page.get_by_role("status")).to_have_text("Pushing to the CRM is on.")
    assert stack.status()["push"]["enabled"] is True


def test_revoked_access_shows_the_banner_and_reconnecting_drains_the_queue(
    stack: Stack, admin_page: Page
) -> None:
    stack.people(0, 4)
    stack.connect_by_api()
    stack.wait_synced(4)
    page = admin_page
    page.reload()
    page.evaluate("window.__noReload = true")

    stack.harness.revoke_tokens()
    stack.harness.expire_access_tokens()
    stack.people(200, 3)  # these wait for the reconnect
    stack.wait(lambda: stack.status()["status"] == "needs_reconnect", "needs_reconnect")
    banner = page.locator(".banner")
    expect(banner).to_contain_text(f"{stack.name} needs reconnecting", timeout=15_000)
    expect(page.locator(f"#card-{stack.provider} [data-count=pending]")).to_have_text("3")
    shot(page, f"{stack.provider}-10-needs-reconnect")
    page.get_by_role("link", name="Integration logs", exact=True).click()
    expect(page.locator(".banner")).to_contain_text("needs reconnecting")  # on every page
    page.get_by_role("link", name="Integrations", exact=True).click()

    page.evaluate("window.__noReload = true")
    button = page.locator(".banner").get_by_role("button", name=f"Reconnect {stack.name}")
    authorize_from(page, stack, button)
    expect(page.locator(".banner")).to_have_count(0)
    tile = page.locator(f"#card-{stack.provider}")
    expect(tile.locator("[data-status-badge]")).to_have_text("Connected")
    expect(tile.locator("[data-count=pending]")).to_have_text("0", timeout=30_000)
    expect(tile.locator("[data-count=synced]")).to_have_text("7")
    assert page.evaluate("window.__noReload") is True
    shot(page, f"{stack.provider}-11-reconnected")


def test_disconnect_keeps_the_crm_data(stack: Stack, admin_page: Page) -> None:
    stack.people(0, 2)
    stack.connect_by_api()
    stack.wait_synced(2)
    records = len(stack.harness.records())
    page = admin_page
    page.reload()
    page.get_by_role("button", name="Disconnect").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Your data in {stack.name} stays")
    shot(page, f"{stack.provider}-12-disconnect-confirm", full_page=False)
    dialog.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("status")).to_contain_text(f"Disconnected from {stack.name}")
    expect(page.get_by_role("button", name=f"Connect {stack.name}")).to_be_visible()
    assert len(stack.harness.records()) == records
    shot(page, f"{stack.provider}-13-disconnected")


def test_retry_a_failed_operation_from_the_log(stack: Stack, admin_page: Page) -> None:
    outcome = stack.harness.duplicate_email_outcome
    if outcome == "synced":
        pytest.skip(f"{stack.name} accepts two records with one email: nothing fails that way")
    stack.connect_by_api()
    crm_id = stack.harness.create_by_hand(  # another record already has this email
        {"first_name": "Hand", "last_name": "Made", "email": "taken@example.com"}
    )
    stack.people(300, 1, emails=["taken@example.com"])
    stack.wait(lambda: stack.status()["counts"][outcome] == 1, f"one {outcome} operation")

    page = admin_page
    page.goto(f"{stack.url}/settings/logs")
    row = page.locator("table.log tbody tr").first
    expect(row).to_contain_text("p-300")
    expect(row.locator(".badge")).to_have_text(outcome.capitalize())
    failed_id = row.get_attribute("id")
    shot(page, f"{stack.provider}-14-log-failed")

    stack.harness.manual_edit(crm_id, "email", "someone-else@example.com")  # the fix
    row.get_by_role("button", name=re.compile("^Retry operation")).click()
    expect(page.get_by_role("status")).to_contain_text("queued for retry")
    top = page.locator("table.log tbody tr").first
    expect(top).not_to_have_id(failed_id or "", timeout=30_000)  # the retried run, at the top
    expect(top.locator(".badge")).to_have_text("Created")
    expect(top).to_contain_text(f"retry of #{(failed_id or '').removeprefix('op-')}")
    shot(page, f"{stack.provider}-15-log-retried")
    assert stack.status()["counts"][outcome] == 0


def test_a_provider_guide_comes_before_the_popup(
    stack: Stack, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider whose spec lists ``connect_steps`` (Salesforce: install the package first)
    gets a step-by-step dialog before its authorisation popup."""
    steps = (
        ConnectStep(
            title="Install the Acme package",
            text="Your CRM administrator installs it once.",
            url="https://crm.example/install/acme",
            link_label="Open the install page",
        ),
        ConnectStep(title="Come back here when it is installed"),
    )
    monkeypatch.setattr(cards, "connect_steps", lambda spec: steps)
    context = new_context(browser)
    page = context.new_page()
    sign_in(page, stack, ADMIN[1], f"{stack.provider}-16-signin")
    button = page.get_by_role("button", name=f"Connect {stack.name}")
    guide = page.get_by_role("dialog", name=f"Connect {stack.name}")
    with page.expect_popup() as opened:
        button.click()
        expect(guide).to_contain_text("Step 1 of 3")
        expect(guide.get_by_role("link", name="Open the install page")).to_have_attribute(
            "href", "https://crm.example/install/acme"
        )
        shot(page, f"{stack.provider}-17-guide", full_page=False)
        guide.get_by_role("button", name="Next").click()
        expect(guide).to_contain_text("Come back here when it is installed")
        guide.get_by_role("button", name="Next").click()
        expect(guide).to_contain_text("Step 3 of 3")
        guide.get_by_role("button", name=f"Authorise {stack.name}").click()
    consent_in_popup(opened.value, stack)
    expect(page.locator("[data-status-badge]")).to_have_text("Connected")
    context.close()


def test_setup_required_lists_the_missing_fields_and_creates_them(
    stack: Stack, admin_page: Page, member_page: Page
) -> None:
    stack.connect_by_api()
    active = select(Connection).where(
        Connection.org_id == "acme", Connection.status != ConnectionStatus.DISCONNECTED
    )

    def first_run_over() -> bool:  # the run after connecting checks the setup: let it finish
        with stack.service.runtime.db.session() as session:
            row = session.scalars(active).one()
            return row.setup_checked_at is not None and row.lease_owner is None

    stack.wait(first_run_over, "the first run after connecting")
    with stack.service.runtime.db.session() as session:
        conn = session.scalars(active).one()
        conn.status = ConnectionStatus.SETUP_REQUIRED
        conn.settings = {
            **conn.settings,
            "setup": {
                "missing": ["Acme Person ID", "Acme Profile URL"],
                "created": [],
                "message": "Install the Acme package first: https://crm.example/install/acme",
            },
        }
    page = admin_page
    page.reload()
    tile = page.locator(f"#card-{stack.provider}")
    expect(tile.locator("[data-status-badge]")).to_have_text("Setup required")
    expect(tile.locator(".missing li")).to_have_text(["Acme Person ID", "Acme Profile URL"])
    expect(tile.get_by_role("link", name="https://crm.example/install/acme")).to_be_visible()
    shot(page, f"{stack.provider}-18-setup-required")
    expect(page.locator("[data-notice=setup]")).to_contain_text(f"{stack.name} needs setting up")
    page.get_by_role("link", name="Integration logs", exact=True).click()
    expect(page.locator("[data-notice=setup]")).to_contain_text("Acme Person ID")  # every page
    shot(page, f"{stack.provider}-18b-setup-banner", full_page=False)
    page.get_by_role("link", name="Integrations", exact=True).click()
    member_page.reload()
    expect(member_page.get_by_role("button", name="Create the fields")).to_be_disabled()
    expect(member_page.locator("[data-notice=setup]")).to_contain_text("Ask an admin")

    tile.get_by_role("button", name="Create the fields").click()
    expect(page.get_by_role("status")).to_contain_text("Setup is complete")
    expect(page.locator("[data-notice]")).to_have_count(0)
    expect(tile.locator("[data-status-badge]")).to_have_text("Connected")
    assert stack.status()["status"] == "connected"
