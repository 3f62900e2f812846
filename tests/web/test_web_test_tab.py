"""The Test tab in Debian's Chromium: an admin previews an export and an import field by
field, then runs the export for real and finds it at the top of the log; a member may preview
(it writes nothing) but not run; both at laptop (1280x800) and phone (390x844) widths, with
nothing running off the screen.

Screenshots go where ``tests.web.stack.shot`` puts them (``$CRMSYNC_SCREENSHOTS``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.stack import ADMIN, MEMBER, Stack, shot
from tests.web.test_web_tabs import LAPTOP, PHONE, _fits, _page, _tab

SIZES = {"laptop": LAPTOP, "phone": PHONE}


@pytest.fixture
def hubspot(tmp_path: Path) -> Iterator[Stack]:
    """HubSpot, connected, with two people synced, and p-002 unlocked with "Push on unlock"
    off: the app has it, HubSpot does not yet."""
    instance = Stack("hubspot", tmp_path)
    try:
        instance.connect_by_api()
        instance.people(0, 2)
        instance.wait_synced(2)
        body = {"push_on_unlock": False}
        instance.ok(instance.api.patch("/api/v1/orgs/acme/connection", json=body))
        instance.people(2, 1, title="Chief Engineer")
        yield instance
    finally:
        instance.close()


def _crm_title(stack: Stack, person_id: str) -> object:
    found = [r.values.get("title") for r in stack.harness.records() if r.person_id == person_id]
    assert len(found) <= 1, found
    return found[0] if found else None


def _preview(page: Page, direction: str, record: str) -> None:
    form = page.locator("#test-form")
    if direction == "export":
        form.get_by_label("Export: one").check()
        form.get_by_label("person id (export)").fill(record)
    else:
        form.get_by_label("Import: one").check()
        form.get_by_label("record id (import)").fill(record)
    form.get_by_role("button", name="Preview").click()


def _no_overflow(page: Page, what: str) -> None:
    _fits(page, what)
    for cell in page.locator("#preview-fields td").all()[:12]:
        box = cell.bounding_box()
        width = page.evaluate("window.innerWidth")
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, what


@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_an_admin_previews_then_runs_a_test(browser: Browser, hubspot: Stack, size: str) -> None:
    writes = hubspot.harness.write_calls()
    for page in _page(browser, hubspot, ADMIN[1], SIZES[size]):
        _tab(page, "Test")
        _fits(page, "Test")
        shot(page, f"test-tab-{size}-1-admin")
        _preview(page, "export", "p-002")
        result = page.locator("#test-result")
        expect(result.locator("[data-test-status]")).to_have_text("Upserted")  # by Person ID
        title = result.locator("tr[data-field='title']")
        expect(title).to_contain_text("Chief Engineer")
        expect(title).to_contain_text("Sent")
        expect(title).to_contain_text("created with the record")
        expect(result).to_contain_text("This was a preview: nothing was written.")
        assert hubspot.harness.write_calls() == writes, "a preview writes nothing to the CRM"
        assert _crm_title(hubspot, "p-002") is None
        _no_overflow(page, "the export preview")
        shot(page, f"test-tab-{size}-2-preview")

        page.locator("#test-form").get_by_role("button", name="Run test").click()
        ran = page.locator("[data-test-ran]")
        expect(ran).to_contain_text("Done for real: inserted")
        assert _crm_title(hubspot, "p-002") == "Chief Engineer"
        operation = ran.get_by_role("link", name="See it in the log")
        href = operation.get_attribute("href")
        assert href is not None and "#op-" in href
        _no_overflow(page, "the test run")
        shot(page, f"test-tab-{size}-3-ran")
        operation.click()
        expect(page.locator("table.log tbody tr").first).to_have_attribute("id", href.split("#")[1])
        _tab(page, "Test")
        _preview(page, "export", "p-nobody")
        expect(page.locator("#test-error")).to_contain_text("no contact p-nobody")
        expect(page.locator("#test-result")).to_have_count(0)
        _fits(page, "the refusal")
        shot(page, f"test-tab-{size}-4-unknown")


def test_an_import_preview_shows_the_incoming_record(hubspot: Stack, browser: Browser) -> None:
    crm_id = hubspot.harness.create_by_hand(
        {"first_name": "Alan", "last_name": "Turing", "email": "alan@bletchley.test"}
    )
    for page in _page(browser, hubspot, ADMIN[1], LAPTOP):
        _tab(page, "Test")
        _preview(page, "import", crm_id)
        result = page.locator("#test-result")
        expect(result.locator("[data-test-status]")).to_have_text("Ignored")
        expect(result).to_contain_text("Turing")
        shot(page, "test-tab-laptop-5-import")


@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_a_member_may_preview_but_not_run(browser: Browser, hubspot: Stack, size: str) -> None:
    for page in _page(browser, hubspot, MEMBER[1], SIZES[size]):
        _tab(page, "Test")
        expect(page.get_by_role("note")).to_contain_text("Only admins")
        run = page.locator("#test-form").get_by_role("button", name="Run test")
        expect(run).to_be_disabled()
        _preview(page, "export", "p-002")
        expect(page.locator("#test-result [data-test-status]")).to_have_text("Upserted")
        expect(page.locator("#test-form").get_by_role("button", name="Run test")).to_be_disabled()
        assert _crm_title(hubspot, "p-002") is None
        _no_overflow(page, "the member's preview")
        shot(page, f"test-tab-{size}-6-member")
