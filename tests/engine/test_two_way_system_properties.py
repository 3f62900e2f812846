"""Property, end to end: whatever interleaving of host edits, CRM users' edits, owner changes,
deletes, restores and merges, webhooks delivered or lost, and reads killed before they commit,
once the engine settles each side holds what the ownership rules say, and a further sync
writes nothing.

The whole of crmsync runs against HubSpot's emulator (its harness, never the connector, reads
the CRM back). The app owns the person's fields, the CRM owns the owner; a record a CRM user
deleted is not made again, and takes the app's edits once restored.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from crmsync.db.tables import OrgRecord
from crmsync.engine import intake
from crmsync.providers.hubspot.emulator.harness import HubSpotHarness
from crmsync.service import create_product_app
from tests.support.world import World, world

PEOPLE = ("p1", "p2")
USERS = {"admin": "admin@acme.test", "member": "member@acme.test", "outsider": "rep@else.test"}
BASE = "http://crmsync.test"

person = st.sampled_from(PEOPLE)
step = st.one_of(
    st.tuples(st.just("host edits"), person, st.sampled_from(["Captain", "Commodore"])),
    st.tuples(st.just("crm edits"), person, st.sampled_from(["Pirate", ""])),
    st.tuples(st.just("crm reassigns"), person, st.sampled_from(sorted(USERS))),
    st.tuples(st.just("crm deletes"), person, st.none()),
    st.tuples(st.just("crm restores"), person, st.none()),
    st.tuples(st.just("crm merges"), person, st.none()),
    st.tuples(st.just("webhooks"), st.none(), st.booleans()),
    st.tuples(st.just("push"), st.none(), st.none()),
    st.tuples(st.just("read"), st.none(), st.none()),
    st.tuples(st.just("read, killed"), st.none(), st.none()),
)


@dataclass
class Model:
    """What the host set, and what the CRM's users did, as far as the oracle needs."""

    title: dict[str, str] = field(default_factory=lambda: dict.fromkeys(PEOPLE, "Admiral"))
    crm_id: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    users: dict[str, str] = field(default_factory=dict)


def hubspot(w: World) -> HubSpotHarness:
    assert isinstance(w.harness, HubSpotHarness)
    return w.harness


def deliver(w: World, lose: bool) -> None:
    faults = hubspot(w).webhook_faults()
    faults.drop = 10_000 if lose else 0

    async def send() -> None:
        transport = httpx.ASGITransport(app=create_product_app(w.rt))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            await hubspot(w).deliver_webhooks(http)

    asyncio.run(send())
    faults.drop = 0


def killed_read(w: World) -> None:
    real = intake.Intake.take

    def dies(self: intake.Intake, session: Any, changes: Any) -> None:
        real(self, session, changes)
        raise KeyboardInterrupt("the worker is killed before the page commits")

    intake.Intake.take = dies  # type: ignore[method-assign]
    try:
        w.sync_back()
    except KeyboardInterrupt:
        pass
    finally:
        intake.Intake.take = real  # type: ignore[method-assign]


def act(w: World, model: Model, action: str, who: str | None, arg: Any) -> None:
    gone = who in model.deleted
    harness = hubspot(w)
    if action == "host edits" and who:
        model.title[who] = arg
        w.person(who, first_name="Grace", last_name=who, title=arg)
    elif action == "crm edits" and who and not gone:
        harness.manual_edit(model.crm_id[who], "title", arg)
    elif action == "crm reassigns" and who and not gone:
        harness.manual_edit(model.crm_id[who], "owner", model.users[arg])
    elif action == "crm deletes" and who and not gone:
        harness.delete_by_hand(model.crm_id[who])
        model.deleted.add(who)
    elif action == "crm restores" and who and gone:
        harness.restore_by_hand(model.crm_id[who])
        model.deleted.discard(who)
    elif action == "crm merges" and who and not gone:
        survivor = harness.create_by_hand({"first_name": "Dup", "last_name": who})
        harness.merge_by_hand(survivor, model.crm_id[who])
        model.crm_id[who] = survivor
    elif action == "webhooks":
        deliver(w, lose=bool(arg))
    elif action == "push":
        w.drain()
    elif action == "read":
        w.sync_back()
    elif action == "read, killed":
        killed_read(w)


def check(w: World, model: Model) -> None:
    harness = hubspot(w)
    live = harness.emulator.store.snapshot()
    contacts = {c.id: c for c in [*live, *harness.emulator.store.snapshot(archived=True)]}
    emails = {owner_id: o.email for owner_id, o in harness.emulator.owners.items()}
    with w.rt.db.session() as session:
        records = {r.local_id: r for r in session.scalars(select(OrgRecord))}
    for who in PEOPLE:
        contact = contacts[model.crm_id[who]]
        org = records[who]
        assert org.active is (who not in model.deleted), f"{who}: active as the CRM says"
        if who in model.deleted:
            continue
        assert contact.properties.get("jobtitle") == model.title[who], f"{who}: the app's title"
        assert contact.properties.get("acme_person_id") == who, f"{who}: the app's id"
        owner = contact.properties.get("hubspot_owner_id")
        assert org.owner_crm_email == emails.get(str(owner)), f"{who}: the CRM's owner"
        same = [c for c in live if c.properties.get("acme_person_id") == who]
        assert len(same) == 1, f"{who}: one live record, never a second"


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=10))
def test_any_interleaving_settles_on_what_the_ownership_rules_say(
    steps: list[tuple[str, str | None, Any]],
) -> None:
    data = Path(tempfile.mkdtemp(prefix="crmsync-prop-"))
    with world(f"sqlite:///{data}/crmsync.db", data, "hubspot") as w:
        model = Model()
        w.org("org1", {"u-admin": USERS["admin"], "u-member": USERS["member"]})
        for name, email in USERS.items():
            model.users[name] = hubspot(w).add_user(email, name.title(), "User")
        w.connect("org1")
        for who in PEOPLE:
            w.person(who, first_name="Grace", last_name=who, title="Admiral")
            w.unlock("org1", who, "u-admin")
        w.drain()
        w.sync_back()
        model.crm_id = {who: record.crm_id for who, (record,) in w.records_by_person().items()}
        hubspot(w).subscribe_webhooks(f"{BASE}/webhooks/hubspot")
        for action, who, arg in steps:
            act(w, model, action, who, arg)
        for _ in range(2):  # settle: what is due is pushed, then read back
            w.drain()
            w.sync_back()
        check(w, model)
        writes = w.harness.write_calls()
        w.sync_back()
        w.drain()
        assert w.harness.write_calls() == writes, "settled: a further sync writes nothing"
