"""``crmsync demo``: the whole product on one machine, against the HubSpot emulator.

Seeds an org with an admin and users, CRM owners matching some of them, a few hundred
realistic people (half unlocked before connecting, half after), connects through the
emulator's real OAuth consent page, and waits until everything landed. Every other CRM in the
registry gets its emulator too, so the admin UI can switch to it through its popup.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import sys
import time
import webbrowser
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from faker import Faker
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from crmsync.cli.serving import ServerThread
from crmsync.emulation.harness import EmulatorHarness
from crmsync.emulation.record_page import emulated_record_url
from crmsync.providers.catalog import BUILTIN
from crmsync.providers.emulators import EMULATORS, name_requesting_app
from crmsync.service import build_service
from crmsync.settings import Settings
from crmsync.tuning import settle_heap

PROVIDER = "hubspot"
USERS = [
    ("u-admin", "admin@demo.test", "Ada Admin", "admin"),
    ("u-bob", "bob@demo.test", "Bob Seller", "member"),
    ("u-cara", "cara@demo.test", "Cara Closer", "member"),
    ("u-dan", "dan@demo.test", "Dan Newhire", "member"),  # no matching CRM owner
]
CRM_OWNERS = [
    ("admin@demo.test", "Ada", "Admin"),
    ("bob@demo.test", "Bob", "Seller"),
    ("cara@demo.test", "Cara", "Closer"),
]
SIGN_IN = ("u-admin", "u-bob")
"""Users who get a password, printed at the end, to sign in to the admin UI."""
console = Console()


def run_demo(once: bool, people: int, port: int, emulator_port: int) -> int:
    data_dir = Path("var/demo")
    shutil.rmtree(data_dir, ignore_errors=True)
    emulators: dict[str, tuple[EmulatorHarness, ServerThread]] = {}
    owners: dict[str, str] = {}
    others = [name for name in sorted(EMULATORS) if name != PROVIDER]
    for offset, name in enumerate([PROVIDER, *others]):
        harness = EMULATORS[name](served=True, rate_limited=True)
        emulators[name] = (harness, ServerThread(harness.app, port=emulator_port + offset).start())
        for email, first, last in CRM_OWNERS:
            owner_id = harness.add_user(email, first, last)
            if name == PROVIDER:
                owners[email] = owner_id
    api_key = "csk_demo_" + secrets.token_urlsafe(16)
    passwords = {user_id: secrets.token_urlsafe(9) for user_id in SIGN_IN}
    settings = Settings(
        data_dir=data_dir,
        # its own database and queue, whatever the environment or .env configure: every
        # demo starts from the empty data_dir removed above
        database_url=f"sqlite:///{(data_dir / 'crmsync.db').as_posix()}",
        redis_url="",
        public_url=f"http://127.0.0.1:{port}",
        host_api_keys=[api_key],
        provider_overrides={
            name: emulated_settings(name, harness, served.url)
            for name, (harness, served) in emulators.items()
        },
    )
    for harness, _served in emulators.values():
        name_requesting_app(harness, settings.app_name)
    service = build_service(settings)
    settle_heap()
    server = ServerThread(service.app, port=port).start()
    harness, emulator = emulators[PROVIDER]
    try:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        ) as api:
            flow = _flow(api, harness, people, passwords)
            ok = _report({**flow, "owners": owners})
        if once:
            return 0 if ok else 1
        _print_urls(server.url, emulator.url, api_key)
        _print_sign_in(server.url, passwords, {n: s.url for n, (_h, s) in emulators.items()})
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
        for _harness, served in emulators.values():
            served.stop()


def emulated_settings(name: str, harness: EmulatorHarness, base_url: str) -> dict[str, Any]:
    """Point crmsync at an emulator, record links included (the emulator serves them)."""
    [template] = [p.connector.spec.record_url for p in BUILTIN if p.name == name]
    return {**harness.settings_for(base_url), "record_url": emulated_record_url(template, base_url)}


def _flow(
    api: httpx.Client, harness: EmulatorHarness, count: int, passwords: dict[str, str]
) -> dict[str, Any]:
    fake = Faker()
    Faker.seed(7)
    rng = random.Random(7)
    _ok(api.post("/api/v1/orgs", json={"id": "demo", "name": "Demo Org"}))
    for user_id, email, name, role in USERS:
        user = {"id": user_id, "email": email, "name": name, "role": role}
        if user_id in passwords:
            user["password"] = passwords[user_id]
        _ok(api.post("/api/v1/orgs/demo/users", json=user))
    unlocked_by: dict[str, str] = {}
    with _progress() as progress:
        task = progress.add_task("people", total=count)
        for i in range(count):
            person_id = f"demo-{i:05d}"
            first, last = fake.first_name(), fake.last_name()
            domain = fake.domain_name()
            body: dict[str, Any] = {
                "first_name": first,
                "last_name": last,
                "emails": [f"{first}.{last}.{i}@{domain}".lower()],
                "phones": [fake.numerify("+1-###-###-####")],
                "company": fake.company(),
                "title": fake.job(),
                "city": fake.city(),
                "state": fake.state_abbr(),
                "zip": fake.postcode(),
                "country": "United States",
                "linkedin_url": f"https://www.linkedin.com/in/{first}-{last}-{i}".lower(),
            }
            _ok(api.put(f"/api/v1/people/{person_id}", json=body))
            unlocked_by[person_id] = rng.choice(USERS)[0]
            progress.advance(task)
    before = list(unlocked_by)[: count // 2]
    _unlock(api, before, unlocked_by)
    console.print(f"{len(before)} people unlocked before connecting (they will be backfilled)")
    authorize = _ok(api.post("/api/v1/orgs/demo/connection", json={"provider": PROVIDER}))
    _consent(authorize["authorize_url"], api)
    console.print("[green]Connected[/] the demo org to the emulated HubSpot")
    after = list(unlocked_by)[count // 2 :]
    _unlock(api, after, unlocked_by)
    console.print(f"{len(after)} people unlocked live after connecting")
    _wait(api, count)
    return {"unlocked_by": unlocked_by, "harness": harness, "api": api}


def _unlock(api: httpx.Client, person_ids: list[str], unlocked_by: dict[str, str]) -> None:
    for start in range(0, len(person_ids), 50):
        body = [
            {"person_id": p, "unlocked_by": unlocked_by[p]} for p in person_ids[start : start + 50]
        ]
        _ok(api.post("/api/v1/orgs/demo/unlocks", json=body))


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.action:
            self.action = a.get("action", "")
        if tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")


def _consent(authorize_url: str, api: httpx.Client) -> None:
    """Click "Allow" on the emulator's consent page, as the org's admin would."""
    with httpx.Client(timeout=30) as browser:
        page = browser.get(authorize_url)
        page.raise_for_status()
        form = _Form()
        form.feed(page.text)
        answer = browser.post(
            urljoin(str(page.url), form.action), data={**form.fields, "decision": "allow"}
        )
        callback = browser.get(answer.headers["location"])
        if callback.status_code != 200:
            raise SystemExit(f"connecting failed: {callback.text}")


def _wait(api: httpx.Client, count: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    with _progress() as progress:
        task = progress.add_task("synced", total=count)
        while time.monotonic() < deadline:
            status = _ok(api.get("/api/v1/orgs/demo/connection"))
            counts = status["counts"]
            progress.update(task, completed=counts["synced"] + counts["failed"] + counts["skipped"])
            if counts["pending"] == 0 and status["status"] == "connected":
                return
            time.sleep(0.5)


def _report(summary: dict[str, Any]) -> bool:
    harness: EmulatorHarness = summary["harness"]
    api: httpx.Client = summary["api"]
    unlocked_by: dict[str, str] = summary["unlocked_by"]
    records = harness.records()
    per_person = Counter(r.person_id for r in records if r.person_id)
    landed = [p for p in unlocked_by if per_person.get(p) == 1]
    duplicates = [p for p, n in per_person.items() if n > 1]
    owners: dict[str, str] = summary["owners"]
    emails = {user_id: email for user_id, email, _n, _r in USERS}
    by_person = {r.person_id: r for r in records}
    matched = sum(
        1
        for p, user in unlocked_by.items()
        if p in by_person
        and by_person[p].owner_id == owners.get(emails[user])
        and emails[user] in owners
    )
    expected_owned = sum(1 for user in unlocked_by.values() if emails[user] in owners)
    failures = _ok(api.get("/api/v1/orgs/demo/operations", params={"status": "failed"}))
    table = Table(title="crmsync demo: HubSpot (emulated)")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("people unlocked", str(len(unlocked_by)))
    table.add_row("contacts landed (exactly once)", str(len(landed)))
    table.add_row("duplicates in the CRM", str(len(duplicates)))
    table.add_row("owners matched", f"{matched} of {expected_owned}")
    table.add_row("unassigned (no CRM owner)", str(len(unlocked_by) - expected_owned))
    table.add_row("failed", str(len(failures)))
    console.print(table)
    for op in failures[:10]:
        console.print(f"  [red]failed[/] {op['person_id']}: {op['reason']}")
    return len(landed) == len(unlocked_by) and not duplicates and matched == expected_owned


def _print_urls(api_url: str, emulator_url: str, api_key: str) -> None:
    console.print(f"\ncrmsync API      {api_url}/docs")
    console.print(f"host API key     {api_key}")
    console.print(
        f"org status       curl -H 'Authorization: Bearer {api_key}' "
        f"{api_url}/api/v1/orgs/demo/connection"
    )
    console.print(f"HubSpot emulator {emulator_url}/_emulator/contacts")


def _print_sign_in(url: str, passwords: dict[str, str], emulators: dict[str, str]) -> None:
    """The admin UI is where the demo ends up: print how to sign in, and open it."""
    page = f"{url}/signin?next=/settings/integrations"
    console.print(f"\nadmin UI         {page}", soft_wrap=True)
    table = Table(title="sign in to the admin UI as")
    for column in ("user", "role", "email", "password"):
        table.add_column(column)
    for user_id, email, _name, role in USERS:
        if user_id in passwords:
            table.add_row(user_id, role, email, passwords[user_id])
    console.print(table)
    others = ", ".join(f"{name} {base}" for name, base in emulators.items() if name != PROVIDER)
    if others:
        console.print(f"other CRM emulators {others} (disconnect HubSpot to switch)")
    console.print("Press Ctrl-C to stop.")
    if (
        os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or sys.platform
        in (
            "darwin",
            "win32",
        )
    ):
        webbrowser.open(page)


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise SystemExit(
            f"{response.request.method} {response.request.url}: "
            f"{response.status_code} {response.text}"
        )
    return response.json()


__all__ = ["run_demo"]
