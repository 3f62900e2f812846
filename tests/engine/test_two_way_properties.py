"""Property: whatever interleaving of app edits, CRM edits, pushes (landed or lost) and reads
back, once both sides have settled each field holds what its owner says, on both sides, and a
further push or read changes nothing (no ping-pong, no write that changes nothing)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crmsync.domain.mapping import APP, FieldMap, FieldMaps, ValueKind
from crmsync.engine.planner import after_write, desired_fields, plan_write
from crmsync.engine.reconcile import reconcile

CRM = "conn-1"
MAPPINGS = FieldMaps.of(
    [
        FieldMap("person_id", "pid", ValueKind.KEY, APP, identity=True),
        FieldMap("title", "title", ValueKind.TEXT, APP),
        FieldMap("company", "company", ValueKind.TEXT, CRM),
        FieldMap("owner", "owner_id", ValueKind.USER, CRM),
    ]
)
USERS = {"ann@acme.test": "u1", "bob@acme.test": "u2"}
EMAILS = {v: k for k, v in USERS.items()}
values = st.sampled_from([None, "", "a", "b"])
owners = st.sampled_from([None, "ann@acme.test", "bob@acme.test"])
step = st.one_of(
    st.tuples(st.just("app"), st.sampled_from(["title", "company"]), values),
    st.tuples(st.just("app"), st.just("owner"), owners),
    st.tuples(st.just("crm"), st.sampled_from(["title", "company"]), values),
    st.tuples(st.just("crm"), st.just("owner_id"), st.sampled_from([None, "u1", "u2"])),
    st.tuples(st.just("push"), st.booleans(), st.none()),
    st.tuples(st.just("read"), st.none(), st.none()),
)


class Sides:
    """The app (its values, and the org's view of CRM-owned ones), the CRM's record, and
    crmsync's shadow between them."""

    def __init__(self) -> None:
        self.app: dict[str, Any] = {"person_id": "p1", "title": "t", "company": "c", "owner": None}
        self.org: dict[str, Any] = {}
        self.crm: dict[str, Any] = {}
        self.shadow: dict[str, Any] | None = None
        self.writes = 0

    def push(self, lands: bool) -> None:
        desired = desired_fields(self.app, MAPPINGS, USERS)
        plan = plan_write(desired, MAPPINGS, self.shadow, False)
        if plan.unchanged:
            return
        self.writes += 1
        if lands:
            self.crm.update(plan.send)
            self.shadow = after_write(self.shadow, plan.send)

    def read(self) -> None:
        if self.shadow is None:
            return  # not created yet: nothing to read back
        result = reconcile(self.crm, MAPPINGS, self.shadow, CRM, EMAILS)
        self.org.update(result.taken)
        self.shadow = result.shadow


def _blank(value: Any) -> Any:
    return value or None


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=25))
def test_both_sides_settle_on_what_the_owners_say(steps: list[Any]) -> None:
    sides = Sides()
    for kind, a, b in steps:
        if kind == "app":
            sides.app[a] = b
        elif kind == "crm" and sides.shadow is not None:
            sides.crm[a] = b
        elif kind == "push":
            sides.push(lands=a)
        elif kind == "read":
            sides.read()
    for _ in range(2):  # settle: what the next scheduled runs do
        sides.push(lands=True)
        sides.read()
    assert sides.shadow is not None
    assert _blank(sides.crm.get("title")) == _blank(sides.app["title"]), "the app owns titles"
    assert _blank(sides.crm["pid"]) == "p1"
    for field, local in (("company", "company"), ("owner_id", "owner")):
        crm_value = _blank(sides.crm.get(field))
        org_value = _blank(sides.org.get(local, "(created)"))
        if org_value != "(created)":  # the CRM's value since the create came back
            expected = EMAILS.get(crm_value) if field == "owner_id" else crm_value
            assert org_value == _blank(expected), f"the CRM owns {field}"
    writes = sides.writes
    sides.push(lands=True)
    sides.read()
    assert sides.writes == writes, "a settled record is written no more"
