"""The emulated Close data (organisations, users, lead statuses, custom fields, leads, contacts,
activities) behind one lock. Every method takes the caller's organisation: one organisation
never sees another's objects. Methods never await; they hold the lock only for in-memory work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crmsync.providers.close.emulator import activities, lead_query, search
from crmsync.providers.close.emulator.errors import CloseError, invalid, not_found
from crmsync.providers.close.emulator.eventlog import Actor, EventLog
from crmsync.providers.close.emulator.payloads import (
    ContactChanges,
    LeadChanges,
    lead_contacts,
    parse_contact,
    parse_custom_field,
    parse_lead,
)
from crmsync.providers.close.emulator.records import (
    Activity,
    Contact,
    CustomField,
    Lead,
    LeadStatus,
    Organization,
    User,
    iso,
    new_id,
    select,
)
from crmsync.providers.close.emulator.value_index import ValueIndex

Fields = Sequence[str] | None
Json = dict[str, Any]
Prior = Mapping[str, Any] | None
DEFAULT_STATUSES = ("Potential", "Bad Fit", "Qualified", "Customer")
"""A new organisation's lead statuses (Close's sample data; the exact defaults unconfirmed)."""


class CloseStore:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        organizations: Sequence[str],
        admin_email: str,
        consolidate_seconds: float = 30.0,
    ) -> None:
        self.lock = threading.Lock()
        self._clock = clock
        self.events = EventLog(consolidate_seconds)
        self.by_value = ValueIndex()
        """The contacts holding each custom value (a search by Person ID reads it)."""
        created = self.now()
        self.organizations = {
            org.id: org
            for org in (Organization(new_id("orga_"), n, created) for n in organizations)
        }
        self.primary_id = next(iter(self.organizations))
        self.admin = User(new_id("user_"), admin_email, "Demo", "Admin", created)
        self.reset()

    def now(self) -> str:
        return iso(self._clock())

    def reset(self) -> None:
        """No leads, contacts or custom fields; the admin is the only user, in every org."""
        with self.lock:
            self.admin.organizations = list(self.organizations)
            self.users: dict[str, User] = {self.admin.id: self.admin}
            self.fields: dict[str, CustomField] = {}
            self.lead_fields: dict[str, CustomField] = {}
            self.statuses: dict[str, list[LeadStatus]] = {
                org: [LeadStatus(new_id("stat_"), org, label) for label in DEFAULT_STATUSES]
                for org in self.organizations
            }
            self.leads: dict[str, Lead] = {}
            self.contacts: dict[str, Contact] = {}
            self.activities: dict[str, Activity] = {}
            self.events.events.clear()
            self.by_value.clear()

    # organisations and users ---------------------------------------------------------------

    def add_user(self, email: str, first_name: str, last_name: str) -> User:
        """A member of the first organisation (an existing user with this email joins it)."""
        with self.lock:
            user = next((u for u in self.users.values() if u.email == email), None)
            if user is None:
                user = User(new_id("user_"), email, first_name, last_name, self.now())
                self.users[user.id] = user
            if self.primary_id not in user.organizations:
                user.organizations.append(self.primary_id)
            return user

    def user_by_email(self, email: str) -> User | None:
        with self.lock:
            return next((u for u in self.users.values() if u.email == email), None)

    def members(self, org_id: str) -> list[User]:
        with self.lock:
            return [u for u in self.users.values() if org_id in u.organizations]

    def me(self, user_id: str) -> dict[str, Any]:
        with self.lock:
            user = self.users[user_id]
            orgs = [self.organizations[o].as_json() for o in user.organizations]
            return {**user.as_json(), "organizations": orgs}

    def organization(self, org_id: str, wanted_id: str) -> dict[str, Any]:
        """``GET /organization/{id}/``: only the caller's own organisation is found."""
        with self.lock:
            org = self.organizations.get(wanted_id)
            if org is None or wanted_id != org_id:
                raise not_found("Organization")
            members = [u for u in self.users.values() if org_id in u.organizations]
            return {
                **org.as_json(),
                "date_updated": org.date_created,
                "created_by": None,
                "updated_by": None,
                "currency": "USD",
                "lead_statuses": [{"id": s.id, "label": s.label} for s in self.statuses[org_id]],
                "memberships": [u.membership_json(org_id) for u in members],
                "inactive_memberships": [],
            }

    def lead_statuses(self, org_id: str) -> list[LeadStatus]:
        with self.lock:
            return list(self.statuses[org_id])

    # custom fields -----------------------------------------------------------------------

    def _fields(self, org_id: str) -> dict[str, CustomField]:
        return {f.id: f for f in self.fields.values() if f.organization_id == org_id}

    def custom_fields(self, org_id: str) -> list[CustomField]:
        with self.lock:
            return list(self._fields(org_id).values())

    def _lead_fields(self, org_id: str) -> dict[str, CustomField]:
        return {f.id: f for f in self.lead_fields.values() if f.organization_id == org_id}

    def custom_fields_of_leads(self, org_id: str) -> list[CustomField]:
        with self.lock:
            return list(self._lead_fields(org_id).values())

    def create_field(
        self, org_id: str, payload: Mapping[str, Any], user_id: str, *, on: str = "contact"
    ) -> CustomField:
        """A contact custom field (``cf_…``), or with ``on="lead"`` a lead one (``lcf_…``)."""
        with self.lock:
            existing = self._lead_fields(org_id) if on == "lead" else self._fields(org_id)
            parsed = parse_custom_field(payload, {f.name for f in existing.values()})
            definition = CustomField(
                id=new_id("lcf_" if on == "lead" else "cf_"),
                organization_id=org_id,
                date_created=self.now(),
                created_by=user_id,
                **parsed,
            )
            (self.lead_fields if on == "lead" else self.fields)[definition.id] = definition
            return definition

    # leads and contacts ------------------------------------------------------------------

    def _members(self, org_id: str) -> set[str]:
        return {u.id for u in self.users.values() if org_id in u.organizations}

    def _lead(self, org_id: str, lead_id: str) -> Lead:
        lead = self.leads.get(lead_id)
        if lead is None or lead.organization_id != org_id:
            raise not_found("Lead")
        return lead

    def _contact(self, org_id: str, contact_id: str) -> Contact:
        contact = self.contacts.get(contact_id)
        if contact is None or contact.organization_id != org_id:
            raise not_found("Contact")
        return contact

    def _lead_json(self, lead: Lead, fields: Fields = None) -> dict[str, Any]:
        custom = self._fields(lead.organization_id)
        contacts = [self.contacts[c].as_json(custom) for c in lead.contact_ids]
        return select(lead.as_json(contacts, self._lead_fields(lead.organization_id)), fields)

    def _contact_json(self, contact: Contact, fields: Fields = None) -> dict[str, Any]:
        return select(contact.as_json(self._fields(contact.organization_id)), fields)

    def _apply(self, contact: Contact, changes: ContactChanges, user_id: str) -> None:
        for key, value in changes.values.items():
            setattr(contact, key, value)
        for field_id, value in changes.custom.items():
            self.by_value.remove(contact.id, field_id, contact.custom.get(field_id))
            if value is None:
                contact.custom.pop(field_id, None)
            else:
                contact.custom[field_id] = value
                self.by_value.add(contact.id, field_id, value)
        contact.date_updated, contact.updated_by = self.now(), user_id

    def _apply_lead(self, lead: Lead, changes: LeadChanges) -> None:
        for key, value in changes.values.items():
            setattr(lead, key, value)
        for field_id, value in changes.custom.items():
            if value is None:
                lead.custom.pop(field_id, None)
            else:
                lead.custom[field_id] = value

    def _new_lead(self, org_id: str, user_id: str, changes: LeadChanges) -> Lead:
        status = self.statuses[org_id][0]
        lead = Lead(new_id("lead_"), org_id, self.now(), user_id, status.id, status.label)
        self._apply_lead(lead, changes)
        self.leads[lead.id] = lead
        created = Activity(new_id("acti_"), org_id, lead.id, "Created", user_id, lead.date_created)
        self.activities[created.id] = created
        return lead

    def _new_contact(self, lead: Lead, changes: ContactChanges, user_id: str) -> Contact:
        contact = Contact(new_id("cont_"), lead.organization_id, lead.id, self.now(), user_id)
        self._apply(contact, changes, user_id)
        self.contacts[contact.id] = contact
        lead.contact_ids.append(contact.id)
        return contact

    def _log(
        self, org: str, kind: str, act: str, who: Actor, data: Json, prior: Prior = None
    ) -> None:
        self.events.record(self._clock(), org, kind, act, who, data, prior)

    def _created(self, lead: Lead, contacts: Sequence[Contact], actor: Actor) -> None:
        org_id = lead.organization_id
        self._log(org_id, "lead", "created", actor, self._lead_json(lead))
        for contact in contacts:
            self._log(org_id, "contact", "created", actor, self._contact_json(contact))

    def create_lead(
        self,
        org_id: str,
        payload: Mapping[str, Any],
        user_id: str,
        api_key_id: str | None = None,
    ) -> dict[str, Any]:
        """``POST /lead/``: the lead and its nested contacts, all validated before any write."""
        with self.lock:
            fields, members = self._fields(org_id), self._members(org_id)
            changes = parse_lead(payload, self._lead_fields(org_id), members)
            parsed: list[ContactChanges] = []
            for index, body in enumerate(lead_contacts(payload)):
                try:
                    parsed.append(parse_contact(body, fields, members))
                except CloseError as exc:
                    nested = exc.body.get("field-errors", {})
                    raise invalid(field_errors={"contacts": {str(index): nested}}) from exc
            lead = self._new_lead(org_id, user_id, changes)
            made = [self._new_contact(lead, contact, user_id) for contact in parsed]
            self._created(lead, made, Actor(user_id, api_key_id))
            return self._lead_json(lead)

    def update_lead(
        self,
        org_id: str,
        lead_id: str,
        payload: Mapping[str, Any],
        user_id: str,
        api_key_id: str | None = None,
    ) -> dict[str, Any]:
        """``PUT /lead/{id}/`` changes the lead's own fields, never its contacts."""
        with self.lock:
            lead = self._lead(org_id, lead_id)
            changes = parse_lead(payload, self._lead_fields(org_id), self._members(org_id))
            before = self._lead_json(lead)
            self._apply_lead(lead, changes)
            lead.date_updated, lead.updated_by = self.now(), user_id
            after = self._lead_json(lead)
            self._log(org_id, "lead", "updated", Actor(user_id, api_key_id), after, before)
            return after

    def delete_lead(self, org_id: str, lead_id: str, actor: Actor | None = None) -> None:
        """``DELETE /lead/{id}/``: the lead with its contacts and its activities; each
        contact's deletion is an event of its own, as Close cascades them."""
        with self.lock:
            actor = actor or Actor(self.admin.id)
            lead = self._lead(org_id, lead_id)
            data = self._lead_json(lead)
            for contact_id in lead.contact_ids:
                contact = self.contacts.pop(contact_id)
                self._log(
                    org_id, "contact", "deleted", actor, contact.as_json(self._fields(org_id))
                )
                self.by_value.forget(contact)
            for activity in [a for a in self.activities.values() if a.lead_id == lead_id]:
                del self.activities[activity.id]
            del self.leads[lead_id]
            self._log(org_id, "lead", "deleted", actor, data)

    def get_lead(self, org_id: str, lead_id: str, fields: Fields = None) -> dict[str, Any]:
        with self.lock:
            return self._lead_json(self._lead(org_id, lead_id), fields)

    def create_contact(
        self,
        org_id: str,
        payload: Mapping[str, Any],
        user_id: str,
        api_key_id: str | None = None,
    ) -> dict[str, Any]:
        """``POST /contact/``: on ``lead_id``'s lead, or on a new lead when none is given."""
        with self.lock:
            lead_id = payload.get("lead_id")
            if lead_id is not None and (
                not isinstance(lead_id, str) or self.leads.get(lead_id) is None
            ):
                raise invalid(field_errors={"lead_id": "Object does not exist."})
            changes = parse_contact(payload, self._fields(org_id), self._members(org_id))
            actor = Actor(user_id, api_key_id)
            if lead_id:
                lead = self._lead(org_id, lead_id)
            else:
                lead = self._new_lead(org_id, user_id, LeadChanges())
                self._log(org_id, "lead", "created", actor, self._lead_json(lead))
            contact = self._new_contact(lead, changes, user_id)
            self._log(org_id, "contact", "created", actor, self._contact_json(contact))
            return self._contact_json(contact)

    def update_contact(
        self,
        org_id: str,
        contact_id: str,
        payload: Mapping[str, Any],
        user_id: str,
        api_key_id: str | None = None,
    ) -> dict[str, Any]:
        """``PUT /contact/{id}/`` sets the keys given and leaves the others as they are;
        a ``lead_id`` moves the contact to that lead."""
        with self.lock:
            contact = self._contact(org_id, contact_id)
            target = payload.get("lead_id", contact.lead_id)
            if not isinstance(target, str) or self.leads.get(target) is None:
                raise invalid(field_errors={"lead_id": "Object does not exist."})
            changes = parse_contact(payload, self._fields(org_id), self._members(org_id))
            before = self._contact_json(contact)
            if target != contact.lead_id:
                self.leads[contact.lead_id].contact_ids.remove(contact_id)
                self._lead(org_id, target).contact_ids.append(contact_id)
                contact.lead_id = target
            self._apply(contact, changes, user_id)
            after = self._contact_json(contact)
            self._log(org_id, "contact", "updated", Actor(user_id, api_key_id), after, before)
            return after

    def delete_contact(self, org_id: str, contact_id: str, actor: Actor | None = None) -> None:
        """``DELETE /contact/{id}/``: the contact only; its lead stays, maybe with none."""
        with self.lock:
            contact = self._contact(org_id, contact_id)
            self._log(
                org_id,
                "contact",
                "deleted",
                actor or Actor(self.admin.id),
                self._contact_json(contact),
            )
            self.by_value.forget(contact)
            self.leads[contact.lead_id].contact_ids.remove(contact_id)
            del self.contacts[contact_id]

    def merge_leads(self, org_id: str, source_id: str, destination_id: str, actor: Actor) -> None:
        """``POST /lead/merge/``: the source's contacts and activities move to the destination
        (ids kept), the destination logs ``lead.merged``, the source is deleted."""
        with self.lock:
            if source_id == destination_id:
                raise invalid(["A lead cannot be merged into itself."])
            source, destination = self._lead(org_id, source_id), self._lead(org_id, destination_id)
            source_data = self._lead_json(source)
            for contact_id in source.contact_ids:
                self.contacts[contact_id].lead_id = destination_id
                destination.contact_ids.append(contact_id)
            source.contact_ids = []
            for activity in self.activities.values():
                if activity.lead_id == source_id:
                    activity.lead_id = destination_id
            destination.date_updated = self.now()
            data = {
                **self._lead_json(destination),
                "merge_source_lead_id": source_id,
                "merge_destination_lead_id": destination_id,
            }
            self._log(org_id, "lead", "merged", actor, data)
            del self.leads[source_id]
            self._log(org_id, "lead", "deleted", actor, source_data)

    def event_page(self, org_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        with self.lock:
            return self.events.page(self._clock(), org_id, params)

    def get_contact(self, org_id: str, contact_id: str, fields: Fields = None) -> dict[str, Any]:
        with self.lock:
            return self._contact_json(self._contact(org_id, contact_id), fields)

    def page(
        self,
        org_id: str,
        kind: str,
        skip: int,
        limit: int,
        fields: Fields = None,
        *,
        lead_id: str | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """One ``_skip``/``_limit`` page of leads or contacts (of one lead, with ``lead_id``),
        oldest first."""
        with self.lock:
            if kind == "lead":
                leads = [lead for lead in self.leads.values() if lead.organization_id == org_id]
                page = [self._lead_json(lead, fields) for lead in leads[skip : skip + limit]]
                return page, skip + limit < len(leads)
            contacts = [c for c in self.contacts.values() if c.organization_id == org_id]
            if lead_id is not None:
                contacts = [c for c in contacts if c.lead_id == lead_id]
            page = [self._contact_json(c, fields) for c in contacts[skip : skip + limit]]
            return page, skip + limit < len(contacts)

    def query_leads(
        self, org_id: str, text: str, skip: int, limit: int, fields: Fields = None
    ) -> tuple[list[dict[str, Any]], bool, int]:
        """``GET /lead/?query=``: a page of the matching leads, and how many match."""
        with self.lock:
            contact_fields = list(self._fields(org_id).values())
            query = lead_query.parse(text, list(self._lead_fields(org_id).values()), contact_fields)
            leads = [lead for lead in self.leads.values() if lead.organization_id == org_id]
            hits = [
                lead
                for lead in leads
                if lead_query.matches(query, lead, [self.contacts[c] for c in lead.contact_ids])
            ]
            hits = lead_query.ordered(query, hits)
            page = [self._lead_json(lead, fields) for lead in hits[skip : skip + limit]]
            return page, skip + limit < len(hits), len(hits)

    def list_activities(
        self, org_id: str, params: Mapping[str, str], skip: int, limit: int, fields: Fields
    ) -> tuple[list[dict[str, Any]], bool]:
        with self.lock:
            own = [a for a in self.activities.values() if a.organization_id == org_id]
            kept = activities.filtered(params, own)
            page = [select(a.as_json(), fields) for a in kept[skip : skip + limit]]
            return page, skip + limit < len(kept)

    def search(self, org_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            fields = self._fields(org_id)
            required = search.required_terms(body.get("query"))
            if required is None or required[0] not in fields:  # lead fields are not indexed
                leads = [lead for lead in self.leads.values() if lead.organization_id == org_id]
                contacts = [c for c in self.contacts.values() if c.organization_id == org_id]
            else:  # a contact field: only the indexed contacts can match
                field_id, values = required
                leads = []
                contacts = [self.contacts[i] for i in self.by_value.holders(field_id, values)]
                contacts = [c for c in contacts if c.organization_id == org_id]
            return search.run(
                body,
                leads=leads,
                contacts=contacts,
                render={
                    "lead": self._lead_json,
                    "contact": lambda c, names: select(c.as_json(fields), names),
                },
            )

    # the harness's view: every contact with its lead, and manual edits ------------------

    def rows(self, org_id: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Each contact's JSON with its lead's JSON, oldest first."""
        with self.lock:
            return [
                (self._contact_json(c), self._lead_json(self.leads[c.lead_id]))
                for c in self.contacts.values()
                if c.organization_id == org_id
            ]

    def has_lead(self, org_id: str, lead_id: str) -> bool:
        with self.lock:
            lead = self.leads.get(lead_id)
            return lead is not None and lead.organization_id == org_id

    def lead_of(self, org_id: str, contact_id: str) -> str:
        with self.lock:
            return self._contact(org_id, contact_id).lead_id
