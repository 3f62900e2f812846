"""The emulated Close data (organisations, users, contact custom fields, leads, contacts) behind
one lock. Every method takes the caller's organisation: one organisation never sees another's
objects. Methods never await; they hold the lock only for in-memory work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crmsync.providers.close.emulator import search
from crmsync.providers.close.emulator.errors import CloseError, invalid, not_found
from crmsync.providers.close.emulator.payloads import (
    ContactChanges,
    lead_contacts,
    parse_contact,
    parse_custom_field,
    parse_lead,
)
from crmsync.providers.close.emulator.records import (
    Contact,
    CustomField,
    Lead,
    Organization,
    User,
    iso,
    new_id,
    select,
)

Fields = Sequence[str] | None


class CloseStore:
    def __init__(
        self, *, clock: Callable[[], float], organizations: Sequence[str], admin_email: str
    ) -> None:
        self.lock = threading.Lock()
        self._clock = clock
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
            self.leads: dict[str, Lead] = {}
            self.contacts: dict[str, Contact] = {}
            # (custom field id, value as text) -> ids of the contacts holding it: what lets a
            # search by Person ID cost the size of the batch, not the size of the CRM
            self._by_value: dict[tuple[str, str], set[str]] = {}

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

    # custom fields -----------------------------------------------------------------------

    def _fields(self, org_id: str) -> dict[str, CustomField]:
        return {f.id: f for f in self.fields.values() if f.organization_id == org_id}

    def custom_fields(self, org_id: str) -> list[CustomField]:
        with self.lock:
            return list(self._fields(org_id).values())

    def create_field(self, org_id: str, payload: Mapping[str, Any], user_id: str) -> CustomField:
        with self.lock:
            taken = {f.name for f in self._fields(org_id).values()}
            parsed = parse_custom_field(payload, taken)
            definition = CustomField(
                id=new_id("cf_"),
                organization_id=org_id,
                date_created=self.now(),
                created_by=user_id,
                **parsed,
            )
            self.fields[definition.id] = definition
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
        return select(lead.as_json(contacts), fields)

    def _contact_json(self, contact: Contact, fields: Fields = None) -> dict[str, Any]:
        return select(contact.as_json(self._fields(contact.organization_id)), fields)

    def _apply(self, contact: Contact, changes: ContactChanges, user_id: str) -> None:
        for key, value in changes.values.items():
            setattr(contact, key, value)
        for field_id, value in changes.custom.items():
            self._index(contact, field_id, contact.custom.get(field_id), add=False)
            if value is None:
                contact.custom.pop(field_id, None)
            else:
                contact.custom[field_id] = value
                self._index(contact, field_id, value, add=True)
        contact.date_updated, contact.updated_by = self.now(), user_id

    def _index(self, contact: Contact, field_id: str, value: Any, *, add: bool) -> None:
        for item in value if isinstance(value, list) else [value]:
            if item in (None, ""):
                continue
            key = (field_id, str(item))
            if add:
                self._by_value.setdefault(key, set()).add(contact.id)
            elif key in self._by_value:
                self._by_value[key].discard(contact.id)

    def _new_lead(self, org_id: str, user_id: str, changes: Mapping[str, Any]) -> Lead:
        lead = Lead(new_id("lead_"), org_id, self.now(), user_id)
        for key, value in changes.items():
            setattr(lead, key, value)
        self.leads[lead.id] = lead
        return lead

    def _new_contact(self, lead: Lead, changes: ContactChanges, user_id: str) -> Contact:
        contact = Contact(new_id("cont_"), lead.organization_id, lead.id, self.now(), user_id)
        self._apply(contact, changes, user_id)
        self.contacts[contact.id] = contact
        lead.contact_ids.append(contact.id)
        return contact

    def create_lead(self, org_id: str, payload: Mapping[str, Any], user_id: str) -> dict[str, Any]:
        """``POST /lead/``: the lead and its nested contacts, all validated before any write."""
        with self.lock:
            changes = parse_lead(payload)
            fields, members = self._fields(org_id), self._members(org_id)
            parsed: list[ContactChanges] = []
            for index, body in enumerate(lead_contacts(payload)):
                try:
                    parsed.append(parse_contact(body, fields, members))
                except CloseError as exc:
                    nested = exc.body.get("field-errors", {})
                    raise invalid(field_errors={"contacts": {str(index): nested}}) from exc
            lead = self._new_lead(org_id, user_id, changes)
            for contact in parsed:
                self._new_contact(lead, contact, user_id)
            return self._lead_json(lead)

    def update_lead(
        self, org_id: str, lead_id: str, payload: Mapping[str, Any], user_id: str
    ) -> dict[str, Any]:
        """``PUT /lead/{id}/`` changes the lead's own fields, never its contacts."""
        with self.lock:
            lead = self._lead(org_id, lead_id)
            for key, value in parse_lead(payload).items():
                setattr(lead, key, value)
            lead.date_updated, lead.updated_by = self.now(), user_id
            return self._lead_json(lead)

    def get_lead(self, org_id: str, lead_id: str, fields: Fields = None) -> dict[str, Any]:
        with self.lock:
            return self._lead_json(self._lead(org_id, lead_id), fields)

    def create_contact(
        self, org_id: str, payload: Mapping[str, Any], user_id: str
    ) -> dict[str, Any]:
        """``POST /contact/``: on ``lead_id``'s lead, or on a new lead when none is given."""
        with self.lock:
            lead_id = payload.get("lead_id")
            if lead_id is not None and (
                not isinstance(lead_id, str) or self.leads.get(lead_id) is None
            ):
                raise invalid(field_errors={"lead_id": "Object does not exist."})
            changes = parse_contact(payload, self._fields(org_id), self._members(org_id))
            lead = self._lead(org_id, lead_id) if lead_id else self._new_lead(org_id, user_id, {})
            return self._contact_json(self._new_contact(lead, changes, user_id))

    def update_contact(
        self, org_id: str, contact_id: str, payload: Mapping[str, Any], user_id: str
    ) -> dict[str, Any]:
        """``PUT /contact/{id}/`` sets the keys given and leaves the others as they are."""
        with self.lock:
            contact = self._contact(org_id, contact_id)
            changes = parse_contact(payload, self._fields(org_id), self._members(org_id))
            self._apply(contact, changes, user_id)
            return self._contact_json(contact)

    def get_contact(self, org_id: str, contact_id: str, fields: Fields = None) -> dict[str, Any]:
        with self.lock:
            return self._contact_json(self._contact(org_id, contact_id), fields)

    def page(
        self, org_id: str, kind: str, skip: int, limit: int, fields: Fields = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """One ``_skip``/``_limit`` page of leads or contacts, oldest first."""
        with self.lock:
            if kind == "lead":
                leads = [lead for lead in self.leads.values() if lead.organization_id == org_id]
                page = [self._lead_json(lead, fields) for lead in leads[skip : skip + limit]]
                return page, skip + limit < len(leads)
            contacts = [c for c in self.contacts.values() if c.organization_id == org_id]
            page = [self._contact_json(c, fields) for c in contacts[skip : skip + limit]]
            return page, skip + limit < len(contacts)

    def search(self, org_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            fields = self._fields(org_id)
            required = search.required_terms(body.get("query"))
            if required is None:
                leads = [lead for lead in self.leads.values() if lead.organization_id == org_id]
                contacts = [c for c in self.contacts.values() if c.organization_id == org_id]
            else:  # leads hold no custom values: only the indexed contacts can match
                field_id, values = required
                ids = set().union(*(self._by_value.get((field_id, v), set()) for v in values))
                leads = []
                contacts = [self.contacts[i] for i in ids]
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

    def lead_of(self, org_id: str, contact_id: str) -> str:
        with self.lock:
            return self._contact(org_id, contact_id).lead_id
