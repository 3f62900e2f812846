"""The connected CRM's tabs (Sync preferences, Mappings, Test, Logs) in Debian's Chromium, as an
admin and as a member, at laptop (1280x800) and phone (390x844) widths.

Screenshots go where ``tests.web.stack.shot`` puts them (``$CRMSYNC_SCREENSHOTS``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import new_context
from tests.web.stack import ADMIN, MEMBER, Stack, shot, sign_in

LAPTOP = (1280, 800)
PHONE = (390, 844)
TABS = ("Sync preferences", "Mappings", "Test", "Logs")


@pytest.fixture
def hubspot(tmp_path: Path) -> Iterator[Stack]:
    """HubSpot, connected, with three people synced."""
    instance = Stack("hubspot", tmp_path)
    try:
        instance.connect_by_api()
        instance.people(0, 3)
        instance.wait_synced(3)
        yield instance
    finally:
        instance.close()


def _page(browser: Browser, stack: Stack, email: str, size: tuple[int, int]) -> Iterator[Page]:
    context = new_context(browser, *size)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []  # script errors and Content-Security-Policy violations
    refused = "status of 422"  # a refused mapping set is a 422 page, as it should be
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and refused not in m.text else None,
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, stack, email)
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def admin(browser: Browser, hubspot: Stack) -> Iterator[Page]:
    yield from _page(browser, hubspot, ADMIN[1], LAPTOP)


def _mapped(stack: Stack) -> list[tuple[str, str, str]]:
    answer: dict[str, Any] = stack.ok(stack.api.get("/api/v1/orgs/acme/connection/mappings"))
    fields = answer["objects"][0]["fields"]
    return [(f["app_field"], f["crm_field"], f["canonical"]) for f in fields]


def _tab(page: Page, name: str) -> None:
    tabs = page.get_by_role("navigation", name="HubSpot settings")
    tabs.get_by_role("link", name=name).click()
    expect(tabs.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")


def _row(page: Page, app_field: str) -> Any:
    return page.locator(f"#mapping-table tr[data-app-field='{app_field}']")


def _fits(page: Page, what: str) -> None:
    """Nothing runs off the right of the screen, and every tab can be reached."""
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"{what}: the page is {width}px wide on a {viewport}px screen"
    tabs = page.get_by_role("navigation", name="HubSpot settings")
    for name in TABS:
        link = tabs.get_by_role("link", name=name)
        link.scroll_into_view_if_needed()
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport, (
            what,
            name,
            box,
        )


def test_an_admin_changes_the_interval_and_syncs(hubspot: Stack, admin: Page) -> None:
    page = admin
    tabs = page.get_by_role("navigation", name="HubSpot settings")
    expect(tabs.get_by_role("link")).to_have_text(list(TABS))
    current = tabs.get_by_role("link", name="Sync preferences")
    expect(current).to_have_attribute("aria-current", "page")
    interval = page.get_by_label("Sync interval")
    expect(interval).to_have_value("15")
    shot(page, "tabs-1-sync-preferences")
    interval.select_option(label="Every hour")
    page.get_by_role("button", name="Save interval").click()
    expect(page.get_by_role("status")).to_contain_text("Every hour")
    expect(page.get_by_label("Sync interval")).to_have_value("60")
    assert hubspot.status()["sync"]["interval_minutes"] == 60
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("status")).to_contain_text("A sync is queued")
    page.get_by_role("button", name="Full sync").click()
    expect(page.get_by_role("status")).to_contain_text("A full sync is queued")
    hubspot.wait(lambda: bool(hubspot.status()["sync"]["last_full_sync_at"]), "the full sync")
    page.reload()
    expect(page.locator("#sync-prefs")).to_contain_text("Last full sync:")
    expect(page.get_by_label("Preserve manual edits on refresh")).to_be_visible()
    shot(page, "tabs-2-synced")


def test_an_admin_edits_the_mappings(hubspot: Stack, admin: Page) -> None:
    page = admin
    _tab(page, "Mappings")
    expect(_row(page, "person_id")).to_contain_text("Fixed")
    expect(_row(page, "crm_record_id")).to_contain_text("hs_object_id")
    expect(_row(page, "person_id").locator("select")).to_have_count(0)  # ID rows: fixed
    shot(page, "tabs-3-mappings")
    before = _mapped(hubspot)

    # an invalid set: a text field to a date field, and an added row mapping the company
    # (mapped already) to the email (mapped already)
    _row(page, "title").get_by_label("HubSpot field, row").select_option("createdate")
    page.get_by_role("button", name="Add a mapping").click()
    new = page.locator("#mapping-table tr[data-new-row]").last
    new.get_by_label("Acme field, row").select_option("company")
    new.get_by_label("HubSpot field, row").select_option("email")
    page.get_by_role("button", name="Save mappings").click()
    problems = page.locator("#mapping-problems")
    expect(problems).to_contain_text("Nothing was saved.")
    expect(problems.locator("li")).to_have_count(3)
    expect(problems).to_contain_text("createdate")
    expect(problems).to_contain_text("'company' is mapped twice (also row 8)")
    expect(problems).to_contain_text("'email' is already mapped")
    expect(page.locator("tr.row-bad")).to_have_count(2)  # the job title's row and the new one
    assert _mapped(hubspot) == before
    shot(page, "tabs-4-mappings-refused")

    # a valid one: the job title now comes from HubSpot
    page.get_by_role("link", name="Discard changes").click()
    _row(page, "title").get_by_label("Source of truth, row").select_option("crm")
    page.get_by_role("button", name="Save mappings").click()
    saved = page.locator("#mapping-saved")
    expect(saved).to_contain_text("applies from the next sync")
    expect(saved.locator("[data-changes]")).to_contain_text("title (now crm)")
    assert ("title", "jobtitle", "crm") in _mapped(hubspot)
    shot(page, "tabs-5-mappings-saved")
    saved.get_by_role("button", name="Run a full sync").click()
    expect(page.get_by_role("status")).to_contain_text("A full sync is queued")

    _tab(page, "Mappings")
    page.get_by_role("button", name="Refresh HubSpot fields").click()
    expect(page.get_by_role("status")).to_contain_text("fields of contacts from HubSpot")

    _tab(page, "Logs")
    expect(page.get_by_role("heading", name="Integration logs")).to_be_visible()
    expect(page.locator("table.log tbody tr")).to_have_count(3)
    shot(page, "tabs-6-logs")


def test_a_member_sees_every_tab_read_only(browser: Browser, hubspot: Stack) -> None:
    for page in _page(browser, hubspot, MEMBER[1], LAPTOP):
        expect(page.get_by_label("Sync interval")).to_be_disabled()
        expect(page.get_by_role("button", name="Sync now")).to_be_disabled()
        expect(page.get_by_role("button", name="Full sync")).to_be_disabled()
        expect(page.get_by_role("button", name="Save interval")).to_have_count(0)
        _tab(page, "Mappings")
        expect(page.get_by_role("note")).to_contain_text("Only admins")
        expect(_row(page, "title")).to_contain_text("jobtitle")
        expect(page.locator("#mapping-table select")).to_have_count(0)
        expect(page.get_by_role("button", name="Save mappings")).to_have_count(0)
        expect(page.get_by_role("button", name="Refresh HubSpot fields")).to_have_count(0)
        shot(page, "tabs-7-member-mappings")
        _tab(page, "Logs")
        expect(page.get_by_role("button", name="Retry all failed")).to_be_disabled()


@pytest.mark.parametrize("email", [ADMIN[1], MEMBER[1]])
def test_the_tabs_fit_a_phone(browser: Browser, hubspot: Stack, email: str) -> None:
    who = email.split("@")[0]
    for page in _page(browser, hubspot, email, PHONE):
        _fits(page, "Sync preferences")
        shot(page, f"tabs-phone-{who}-1-sync")
        _tab(page, "Mappings")
        _fits(page, "Mappings")
        if email == ADMIN[1]:  # the editable rows stack: every control on screen
            select = _row(page, "title").get_by_label("HubSpot field, row")
            select.scroll_into_view_if_needed()
            box = select.bounding_box()
            assert box is not None and box["x"] + box["width"] <= PHONE[0]
        shot(page, f"tabs-phone-{who}-2-mappings")
        _tab(page, "Logs")
        _fits(page, "Logs")
        shot(page, f"tabs-phone-{who}-3-logs")


def _read_back(stack: Stack) -> None:
    """ "Sync now" through the host API, and wait for the worker's read to finish."""
    before = stack.status()["sync"]["last_success_at"]
    stack.ok(stack.api.post("/api/v1/orgs/acme/connection/sync", json={"full": False}))
    stack.wait(lambda: stack.status()["sync"]["last_success_at"] != before, "the read")


def test_the_logs_tab_filters_by_direction_and_entity(hubspot: Stack, admin: Page) -> None:
    body = {"preserve_manual_edits": True}  # the title edited in HubSpot is taken in
    hubspot.ok(hubspot.api.patch("/api/v1/orgs/acme/connection", json=body))
    _read_back(hubspot)  # takes in what the push wrote: nothing
    (crm_id,) = [r.crm_id for r in hubspot.harness.records() if r.person_id == "p-001"]
    hubspot.harness.manual_edit(crm_id, "title", "Commodore")
    _read_back(hubspot)
    page = admin
    _tab(page, "Logs")
    page.get_by_label("Direction").select_option("import")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.imports tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Commodore")
    expect(page.get_by_label("Direction")).to_have_value("import")
    shot(page, "tabs-8-logs-imports")
    page.get_by_label("Entity").select_option("contact")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    page.get_by_label("Direction").select_option("export")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.log tbody tr")).to_have_count(3)


@pytest.fixture
def salesforce(tmp_path: Path) -> Iterator[Stack]:
    """Salesforce, not connected yet: the connect form with its options."""
    instance = Stack("salesforce", tmp_path)
    try:
        yield instance
    finally:
        instance.close()


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_connect_form_offers_the_orgs_own_app_and_fits(
    browser: Browser, salesforce: Stack, size: tuple[int, int]
) -> None:
    for page in _page(browser, salesforce, ADMIN[1], size):
        card = page.locator("form.connect").filter(has_text="Connect Salesforce")
        card.get_by_text("Use your own Salesforce app").click()
        callback = card.get_by_label("Callback URL")
        expect(callback).to_have_value(salesforce.service.runtime.redirect_uri("salesforce"))
        expect(card.get_by_label("Client ID")).to_be_editable()
        expect(card.get_by_label("Client secret")).to_have_attribute("type", "password")
        expect(card.get_by_label("Login host")).to_be_editable()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size[0], f"the page is {width}px wide on a {size[0]}px screen"
        shot(page, f"connect-own-app-{size[0]}")
