"""crmsync against the loop a user would write with the CRM's official SDK, in one run.

Each side writes the same N people into its own freshly served emulator (its own process) at the
provider's real limits; wall time covers the writes only (setup such as OAuth and custom fields
is left out on both sides), API calls are counted by the emulator, and at the end the records in
the two emulators are compared field by field.

    .venv/bin/python bench/vs_sdk.py --provider hubspot
    .venv/bin/python bench/vs_sdk.py --provider salesforce

What the SDK loop does ("what a user would write"):

* HubSpot (hubspot-api-client): one ``crm.contacts.basic_api.create`` per person, as the SDK's
  README shows; on 409 (the person ID is already there) an ``update`` by ``id_property``. HubSpot
  has no single-record upsert, so create-then-update is the cheapest idempotent loop: one call
  per new person. On 429 it sleeps one second and tries again. The README's "rate limit retry
  middleware" (``Retry(total=5, status_forcelist=(429,))``) is not used: urllib3 never retries
  POST or PATCH with its default ``allowed_methods``, and with no backoff and no Retry-After
  header it would retry at once anyway.
  The owner is looked up once by email with ``crm.owners.owners_api.get_page``.
* Salesforce (simple-salesforce): ``sf.Lead.upsert("<App>_Person_ID__c/<id>", {...})`` per person,
  the upsert its README shows, after one SOQL query for the owner's user ID. Salesforce publishes
  no per-second limit (the emulator enforces the daily allocation), so nothing to retry.
  simple-salesforce only speaks https; a requests adapter sends its calls to the emulator's plain
  http port, nothing else changes.

Defaults: 1,000 people for HubSpot, where the SDK loop is held to 110 requests per 10 s and so
needs about 95 s (crmsync's 10 batch calls fit in one window, so its side is not rate-bound at
this size: past ~11,000 people it settles at 1,100 records/s and the wall ratio near 100x);
5,000 for Salesforce, where nothing paces the SDK loop and loopback calls take a few milliseconds
while crmsync paces itself at 10 requests/s. The real API takes 100 ms or more a call:
``--latency-ms 100`` adds that to every API call on both sides (use ``--people 1000`` with it:
the SDK loop then needs about 100 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import requests

warnings.filterwarnings("ignore", message=".*httpx2.*")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._emulator import EmulatorProcess, emulate
from bench._inprocess import OWNER_EMAIL, connect, drive, person, runtime, seed

from crmsync.connectors.base import AppNames
from crmsync.engine import outbox
from crmsync.engine.runner import SyncRunner
from crmsync.providers.hubspot import mapping as hubspot_mapping
from crmsync.providers.salesforce import mapping as salesforce_mapping
from tests.support.consent import consent

OWNER = (OWNER_EMAIL, "Olive", "Owner")
APP = AppNames("Acme", "acme")  # Settings' default app name: the emulators' package fields
REDIRECT_URI = "http://127.0.0.1:9/callback"
DEFAULT_PEOPLE = {"hubspot": 1_000, "salesforce": 5_000}


# Which CRM field each app field lands in, and the fields the two sides are compared on.
HUBSPOT_FIELDS = {
    "person_id": hubspot_mapping.person_id_property(APP),
    "first_name": "firstname",
    "last_name": "lastname",
    "email": "email",
    "company": "company",
    "title": "jobtitle",
    "owner": "hubspot_owner_id",
}
SALESFORCE_FIELDS = {
    "person_id": salesforce_mapping.person_id_field(APP),
    "first_name": "FirstName",
    "last_name": "LastName",
    "email": "Email",
    "company": "Company",
    "title": "Title",
    "owner": "OwnerId",
}
FIELDS = {"hubspot": HUBSPOT_FIELDS, "salesforce": SALESFORCE_FIELDS}


@dataclass
class Side:
    name: str
    elapsed: float = 0.0
    calls: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    failed: int = 0
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Stored records with a person ID, keyed by it, with the compared fields by app name."""


@contextmanager
def served_emulator(provider: str, latency_ms: float) -> Iterator[EmulatorProcess]:
    """``crmsync emulate PROVIDER`` in its own process at real limits, with the owner seeded."""
    with emulate(provider, users=[":".join(OWNER)]) as emulator:
        if latency_ms:
            emulator.api("PUT", "/_emulator/faults", json={"latency_seconds": latency_ms / 1000})
        yield emulator


def counted(emulator: EmulatorProcess, side: Side) -> None:
    snapshot = emulator.counters()
    side.calls = int(snapshot["total"])
    side.by_endpoint = snapshot["by_endpoint"]


def stored(emulator: EmulatorProcess) -> dict[str, dict[str, Any]]:
    """The emulator's records that carry a person ID, by person ID, compared fields only."""
    fields = FIELDS[emulator.provider]
    if emulator.provider == "hubspot":
        rows = [c["properties"] for c in emulator.api("GET", "/_emulator/contacts")["results"]]
    else:
        rows = emulator.api("GET", "/_emulator/records/Lead")["records"]
    return {
        row[fields["person_id"]]: {app: row.get(crm) or None for app, crm in fields.items()}
        for row in rows
        if row.get(fields["person_id"])
    }


# crmsync ----------------------------------------------------------------------------------------


def run_crmsync(emulator: EmulatorProcess, people: int) -> Side:
    side = Side("crmsync")
    rt = runtime(emulator.provider, emulator.settings, "crmsync-vs-sdk-")
    seed(rt, people)
    connection_id = connect(rt, emulator.provider)
    emulator.reset_counters()
    before = rt.calls.snapshot()
    runner = SyncRunner(rt)
    started = time.monotonic()
    drive(rt, runner, connection_id)
    side.elapsed = time.monotonic() - started
    counted(emulator, side)
    seen = Counter(rt.calls.snapshot())
    seen.subtract(before)
    side.rate_limited = sum(n for (_, status), n in seen.items() if status == 429)
    with rt.db.session() as session:
        side.failed = sum(outbox.queue_depth(session, connection_id).values())
    side.records = stored(emulator)
    return side


# The SDK loop -----------------------------------------------------------------------------------


def authorize(emulator: EmulatorProcess, scopes: list[str]) -> dict[str, Any]:
    """An access token for the SDK, through the CRM's own consent page (not timed)."""
    params = {
        "client_id": emulator.settings["client_id"],
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": " ".join(scopes),
        "state": "vs-sdk",
    }
    location = asyncio.run(
        consent(
            httpx.AsyncHTTPTransport(), f"{emulator.settings['authorize_url']}?{urlencode(params)}"
        )
    )
    code = parse_qs(urlsplit(location).query)["code"][0]
    answer = httpx.post(
        emulator.settings["token_url"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": emulator.settings["client_id"],
            "client_secret": emulator.settings["client_secret"],
            "redirect_uri": REDIRECT_URI,
        },
    )
    answer.raise_for_status()
    token: dict[str, Any] = answer.json()
    return token


def sdk_hubspot(emulator: EmulatorProcess, people: int, side: Side) -> Callable[[], None]:
    """Setup (token, the person ID property), then the timed loop."""
    from hubspot import HubSpot
    from hubspot.crm.contacts import (
        SimplePublicObjectInput,
        SimplePublicObjectInputForCreate,
    )
    from hubspot.crm.contacts.exceptions import ApiException
    from hubspot.crm.properties import PropertyCreate

    token = authorize(
        emulator,
        [
            "crm.objects.contacts.write",
            "crm.schemas.contacts.write",
            "crm.objects.owners.read",
            "oauth",
        ],
    )
    client = HubSpot(access_token=token["access_token"], host=emulator.base)
    id_property = HUBSPOT_FIELDS["person_id"]
    # Made once by hand (or like this) before the loop, as crmsync does when connecting.
    client.crm.properties.core_api.create(
        object_type="contacts",
        property_create=PropertyCreate(
            name=id_property,
            label="Acme Person ID",
            type="string",
            field_type="text",
            group_name="contactinformation",
            has_unique_value=True,
        ),
    )

    def loop() -> None:
        owners = client.crm.owners.owners_api.get_page(email=OWNER[0]).results
        owner_id = owners[0].id if owners else ""
        for i in range(people):
            p = person(i)
            properties = {
                id_property: p["person_id"],
                "firstname": p["first_name"],
                "lastname": p["last_name"],
                "email": p["email"],
                "company": p["company"],
                "jobtitle": p["title"],
                "hubspot_owner_id": owner_id,
            }
            while True:
                try:
                    try:
                        client.crm.contacts.basic_api.create(
                            simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
                                properties=properties
                            )
                        )
                    except ApiException as exc:
                        if exc.status != 409:
                            raise
                        client.crm.contacts.basic_api.update(
                            contact_id=p["person_id"],
                            simple_public_object_input=SimplePublicObjectInput(
                                properties=properties
                            ),
                            id_property=id_property,
                        )
                    break
                except ApiException as exc:
                    if exc.status == 429:
                        side.rate_limited += 1
                        time.sleep(1)
                        continue
                    side.failed += 1
                    print(f"{p['person_id']}: {exc.status} {exc.body}", file=sys.stderr)
                    break

    return loop


class _PlainHttp(requests.adapters.HTTPAdapter):
    """simple-salesforce builds https:// URLs; the emulator serves plain http on loopback."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        request.url = "http://" + (request.url or "").removeprefix("https://")
        return super().send(request, *args, **kwargs)


def sdk_salesforce(emulator: EmulatorProcess, people: int, side: Side) -> Callable[[], None]:
    """Setup (token), then the timed loop."""
    from simple_salesforce import Salesforce
    from simple_salesforce.exceptions import SalesforceError

    token = authorize(emulator, ["api", "refresh_token"])
    session = requests.Session()
    session.mount(token["instance_url"].replace("http://", "https://"), _PlainHttp())
    sf = Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=session
    )
    id_field = SALESFORCE_FIELDS["person_id"]

    def loop() -> None:
        users = sf.query(f"SELECT Id FROM User WHERE Email = '{OWNER[0]}' AND IsActive = true")
        owner_id = users["records"][0]["Id"] if users["records"] else None
        for i in range(people):
            p = person(i)
            lead = {
                "FirstName": p["first_name"],
                "LastName": p["last_name"],
                "Email": p["email"],
                "Company": p["company"],
                "Title": p["title"],
                **({"OwnerId": owner_id} if owner_id else {}),
            }
            try:
                sf.Lead.upsert(f"{id_field}/{p['person_id']}", lead)
            except SalesforceError as exc:
                if exc.status == 403 and "REQUEST_LIMIT_EXCEEDED" in str(exc.content):
                    side.rate_limited += 1
                side.failed += 1
                print(f"{p['person_id']}: {exc}", file=sys.stderr)

    return loop


def run_sdk(emulator: EmulatorProcess, people: int) -> Side:
    side = Side("SDK loop")
    setup = sdk_hubspot if emulator.provider == "hubspot" else sdk_salesforce
    loop = setup(emulator, people, side)
    emulator.reset_counters()
    started = time.monotonic()
    loop()
    side.elapsed = time.monotonic() - started
    counted(emulator, side)
    side.records = stored(emulator)
    return side


# Report -----------------------------------------------------------------------------------------


def check(side: Side, people: int) -> tuple[bool, str]:
    expected = {person(i)["person_id"] for i in range(people)}
    landed = expected & side.records.keys()
    extra = len(side.records) - len(landed)
    owned = sum(1 for values in side.records.values() if values.get("owner"))
    ok = len(landed) == people and extra == 0 and side.failed == 0
    return ok, (
        f"{len(landed)}/{people} person IDs, {extra} unexpected, {side.failed} failed, "
        f"{owned} with the owner set"
    )


def compare(provider: str, ours: Side, theirs: Side) -> tuple[bool, str]:
    """Same person IDs with the same values; the owner is compared as "set or not" because
    each emulator gives its user its own ID."""

    def comparable(values: dict[str, Any]) -> dict[str, Any]:
        return {**values, "owner": bool(values.get("owner"))}

    shared = ours.records.keys() & theirs.records.keys()
    differing = [
        pid
        for pid in sorted(shared)
        if comparable(ours.records[pid]) != comparable(theirs.records[pid])
    ]
    only = len(ours.records.keys() ^ theirs.records.keys())
    ok = not differing and not only
    detail = (
        f"{len(shared) - len(differing)} identical, {len(differing)} differ, {only} on one side "
        f"(compared: {', '.join(FIELDS[provider])})"
    )
    if differing:
        pid = differing[0]
        detail += f"; e.g. {pid}: {ours.records[pid]} vs {theirs.records[pid]}"
    return ok, detail


def report(args: argparse.Namespace, ours: Side, theirs: Side) -> bool:
    people = args.people
    print(
        f"provider {args.provider}, {people} people, real rate limits"
        + (f", {args.latency_ms:g} ms added to every API call" if args.latency_ms else "")
    )
    print()
    header = f"{'':<12}{'wall s':>10}{'records/s':>12}{'API calls':>11}{'calls/rec':>11}"
    print(header + f"{'rate-limited':>14}")
    for side in (ours, theirs):
        print(
            f"{side.name:<12}{side.elapsed:>10.2f}{people / side.elapsed:>12.1f}"
            f"{side.calls:>11}{side.calls / people:>11.4f}{side.rate_limited:>14}"
        )
    print()
    print(f"SDK wall / crmsync wall    {theirs.elapsed / ours.elapsed:.1f}x")
    print(f"SDK calls / crmsync calls  {theirs.calls / max(ours.calls, 1):.1f}x")
    print()
    ok = True
    for side in (ours, theirs):
        landed, detail = check(side, people)
        ok &= landed
        print(f"landed ({side.name}): {'OK' if landed else 'MISSING'}  {detail}")
    same, detail = compare(args.provider, ours, theirs)
    print(f"same records:      {'OK' if same else 'DIFFERENT'}  {detail}")
    print()
    for side in (ours, theirs):
        print(f"by endpoint ({side.name}): {json.dumps(side.by_endpoint, sort_keys=True)}")
    print(
        "API calls are counted by the emulator and include refused (rate-limited) ones; "
        "rate-limited answers are counted by the client."
    )
    return ok and same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=sorted(DEFAULT_PEOPLE), default="hubspot")
    parser.add_argument("--people", type=int, default=0, help="default: 1000 / 5000 (see top)")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="Added to every API call of both emulators, e.g. a real CRM's round trip.",
    )
    args = parser.parse_args()
    args.people = args.people or DEFAULT_PEOPLE[args.provider]

    with served_emulator(args.provider, args.latency_ms) as emulator:
        ours = run_crmsync(emulator, args.people)
    with served_emulator(args.provider, args.latency_ms) as emulator:
        theirs = run_sdk(emulator, args.people)
    if not report(args, ours, theirs):
        sys.exit(1)


if __name__ == "__main__":
    main()
