"""Opportunities (``/opportunity/``) as Close documents them.

Fields: ``lead_id`` (required at create; an opportunity does not move to another lead by
``PUT``, only by a lead merge — unconfirmed), ``contact_id`` (a contact of that lead),
``status_id`` (a status of one of the organisation's pipelines; ``status_type``,
``status_label``, ``pipeline_id`` and ``pipeline_name`` derived from it; default: the first
active status), ``value`` (integer cents), ``value_currency``, ``value_period`` (``one_time``,
``monthly``, ``annual``), ``confidence`` (0 to 100), ``date_won`` (a date; set to today when the
status becomes a won one without it — unconfirmed), ``note``, ``user_id`` (the owner, a member)
and ``custom.cf_…`` values of opportunity custom fields. Any other key is refused with Close's
400, and a refused write changes nothing. Every write is an ``opportunity`` event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from crmsync.providers.close.emulator import checks
from crmsync.providers.close.emulator.errors import invalid, not_found
from crmsync.providers.close.emulator.eventlog import Actor
from crmsync.providers.close.emulator.journal import Journal
from crmsync.providers.close.emulator.payloads import parse_custom_field
from crmsync.providers.close.emulator.pipelines import OpportunityStatus, PipelineStore
from crmsync.providers.close.emulator.records import CustomField, custom_json, new_id

WRITABLE = frozenset(
    {
        "lead_id",
        "contact_id",
        "status_id",
        "value",
        "value_currency",
        "value_period",
        "confidence",
        "date_won",
        "note",
        "user_id",
    }
)
PERIODS = ("one_time", "monthly", "annual")


@dataclass
class Opportunity:
    id: str
    organization_id: str
    lead_id: str
    status: OpportunityStatus
    pipeline_name: str
    user_id: str
    created_by: str
    date_created: str
    date_updated: str
    updated_by: str
    contact_id: str | None = None
    value: int | None = None
    value_currency: str = "USD"
    value_period: str = "one_time"
    confidence: int = 0
    date_won: str | None = None
    note: str = ""
    custom: dict[str, Any] = field(default_factory=dict)

    def as_json(self, fields: Mapping[str, CustomField]) -> dict[str, Any]:
        by_id, by_name = custom_json(self.custom, fields)
        return {
            "id": self.id,
            "organization_id": self.organization_id,
            "lead_id": self.lead_id,
            "contact_id": self.contact_id,
            "user_id": self.user_id,
            "status_id": self.status.id,
            "status_label": self.status.label,
            "status_type": self.status.type,
            "pipeline_id": self.status.pipeline_id,
            "pipeline_name": self.pipeline_name,
            "value": self.value,
            "value_currency": self.value_currency,
            "value_period": self.value_period,
            "value_formatted": _formatted(self.value, self.value_currency, self.value_period),
            "confidence": self.confidence,
            "date_won": self.date_won,
            "note": self.note,
            "date_created": self.date_created,
            "date_updated": self.date_updated,
            "created_by": self.created_by,
            "updated_by": self.updated_by,
            "custom": by_name,
            **by_id,
        }


def _formatted(value: int | None, currency: str, period: str) -> str:
    amount = f"{currency} {(value or 0) / 100:,.2f}"
    return {"monthly": f"{amount} monthly", "annual": f"{amount} annually"}.get(period, amount)


@dataclass
class OpportunityStore:
    now: Callable[[], str]
    journal: Journal
    pipelines: PipelineStore
    lead_exists: Callable[[str, str], bool]
    lead_of: Callable[[str, str], str]
    members: Callable[[str], Collection[str]]
    opportunities: dict[str, Opportunity] = field(default_factory=dict)
    fields: dict[str, CustomField] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.opportunities.clear()
            self.fields.clear()

    # custom fields -------------------------------------------------------------------------

    def custom_fields(self, org_id: str) -> dict[str, CustomField]:
        with self.lock:
            return {k: f for k, f in self.fields.items() if f.organization_id == org_id}

    def create_field(self, org_id: str, payload: Mapping[str, Any], user_id: str) -> CustomField:
        """``POST /custom_field/opportunity/``: an opportunity custom field (``cf_…``)."""
        names = {f.name for f in self.custom_fields(org_id).values()}
        parsed = parse_custom_field(payload, names)
        definition = CustomField(
            id=new_id("cf_"),
            organization_id=org_id,
            date_created=self.now(),
            created_by=user_id,
            **parsed,
        )
        with self.lock:
            self.fields[definition.id] = definition
        return definition

    # opportunities -------------------------------------------------------------------------

    def json(self, opportunity: Opportunity) -> dict[str, Any]:
        return opportunity.as_json(self.custom_fields(opportunity.organization_id))

    def get(self, org_id: str, opportunity_id: str) -> Opportunity:
        with self.lock:
            found = self.opportunities.get(opportunity_id)
        if found is None or found.organization_id != org_id:
            raise not_found("Opportunity")
        return found

    def of_org(self, org_id: str) -> list[Opportunity]:
        with self.lock:
            return [o for o in self.opportunities.values() if o.organization_id == org_id]

    def create(self, org_id: str, payload: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
        checks.refuse_unknown(payload, WRITABLE)
        lead_id = payload.get("lead_id")
        if not lead_id:
            raise invalid(field_errors={"lead_id": "This field is required."})
        if not isinstance(lead_id, str) or not self.lead_exists(org_id, lead_id):
            raise invalid(field_errors={"lead_id": "Object does not exist."})
        status = self.pipelines.first_active(org_id)
        user = actor.user_id or ""
        now = self.now()
        made = Opportunity(
            id=new_id("oppo_"),
            organization_id=org_id,
            lead_id=lead_id,
            status=status,
            pipeline_name=self._pipeline_name(org_id, status),
            user_id=user,
            created_by=user,
            updated_by=user,
            date_created=now,
            date_updated=now,
        )
        self._apply(made, payload)
        with self.lock:
            self.opportunities[made.id] = made
        data = self.json(made)
        self.journal.log(org_id, "opportunity", "created", actor, data)
        return data

    def update(
        self, org_id: str, opportunity_id: str, payload: Mapping[str, Any], actor: Actor
    ) -> dict[str, Any]:
        checks.refuse_unknown(payload, WRITABLE)
        found = self.get(org_id, opportunity_id)
        if "lead_id" in payload and payload["lead_id"] != found.lead_id:
            raise invalid(field_errors={"lead_id": "An opportunity cannot move to another lead."})
        before = self.json(found)
        self._apply(found, payload)
        found.date_updated, found.updated_by = self.now(), actor.user_id or found.updated_by
        after = self.json(found)
        self.journal.log(org_id, "opportunity", "updated", actor, after, before)
        return after

    def delete(self, org_id: str, opportunity_id: str, actor: Actor) -> None:
        found = self.get(org_id, opportunity_id)
        data = self.json(found)
        with self.lock:
            self.opportunities.pop(opportunity_id, None)
        self.journal.log(org_id, "opportunity", "deleted", actor, data)

    def _pipeline_name(self, org_id: str, status: OpportunityStatus) -> str:
        return next(p.name for p in self.pipelines.of(org_id) if p.id == status.pipeline_id)

    def _apply(self, target: Opportunity, payload: Mapping[str, Any]) -> None:
        """Every key checked first; only then is anything set (a refused write keeps none)."""
        org_id = target.organization_id
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        parsers: dict[str, Callable[[Any], Any]] = {
            "value": lambda v: None if v is None else checks.integer(v, 0),
            "value_currency": _currency,
            "value_period": lambda v: checks.one_of(v, PERIODS),
            "confidence": lambda v: checks.integer(v, 0, 100),
            "date_won": checks.day,
            "note": lambda v: checks.optional_text(v) or "",
            "user_id": lambda v: checks.member(v, self.members(org_id)),
        }
        for key, parse in parsers.items():
            if key in payload:
                try:
                    values[key] = parse(payload[key])
                except ValueError as exc:
                    errors[key] = str(exc)
        status = target.status
        if "status_id" in payload:
            found = self.pipelines.status(org_id, str(payload["status_id"]))
            if found is None:
                errors["status_id"] = "Object does not exist."
            else:
                status = found
        contact_id = payload.get("contact_id")
        if contact_id is not None and not self._on_lead(org_id, target.lead_id, contact_id):
            errors["contact_id"] = "The contact is not a contact of this lead."
        custom = self._custom(org_id, payload, errors)
        if errors:
            raise invalid(field_errors=errors)
        for key, value in values.items():
            setattr(target, key, value)
        if "contact_id" in payload:
            target.contact_id = None if contact_id is None else str(contact_id)
        if status is not target.status:
            target.status, target.pipeline_name = status, self._pipeline_name(org_id, status)
        if target.status.type == "won" and target.date_won is None:
            target.date_won = self.now()[:10]
        for field_id, value in custom.items():
            if value is None:
                target.custom.pop(field_id, None)
            else:
                target.custom[field_id] = value

    def _on_lead(self, org_id: str, lead_id: str, contact_id: Any) -> bool:
        try:
            return isinstance(contact_id, str) and self.lead_of(org_id, contact_id) == lead_id
        except Exception:
            return False

    def _custom(
        self, org_id: str, payload: Mapping[str, Any], errors: dict[str, str]
    ) -> dict[str, Any]:
        defined = self.custom_fields(org_id)
        parsed: dict[str, Any] = {}
        for key, value in payload.items():
            if not key.startswith("custom."):
                continue
            definition = defined.get(key.removeprefix("custom."))
            if definition is None:
                errors[key] = "There is no opportunity custom field with this id."
                continue
            try:
                parsed[definition.id] = _custom_value(definition, value, self.members(org_id))
            except ValueError as exc:
                errors[key] = str(exc)
        return parsed

    # moves that follow the lead ------------------------------------------------------------

    def follow_merge(self, org_id: str, source: str, destination: str, actor: Actor) -> None:
        """The source lead's opportunities now on the destination: one update event each
        (Close's exact events on a merge are unconfirmed)."""
        for opportunity in [o for o in self.of_org(org_id) if o.lead_id == source]:
            before = self.json(opportunity)
            opportunity.lead_id, opportunity.date_updated = destination, self.now()
            after = self.json(opportunity)
            self.journal.log(org_id, "opportunity", "updated", actor, after, before)

    def drop_lead(self, org_id: str, lead_id: str, actor: Actor) -> None:
        """The lead was deleted: so are its opportunities, each with its event."""
        for opportunity in [o for o in self.of_org(org_id) if o.lead_id == lead_id]:
            self.delete(org_id, opportunity.id, actor)


def _currency(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise ValueError("Not a valid ISO 4217 currency code.")
    return value.upper()


def _custom_value(definition: CustomField, value: Any, users: Collection[str]) -> Any:
    if value is None or value == "":
        return None
    if definition.accepts_multiple_values and isinstance(value, list):
        return [_custom_value(definition, item, users) for item in value]
    if definition.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError("Not a valid number.")
        try:
            return float(value)
        except ValueError:
            raise ValueError("Not a valid number.") from None
    if definition.type == "user":
        return checks.member(value, users)
    if definition.type == "choices" and value not in definition.choices:
        raise ValueError(f"{value!r} is not one of the choices.")
    return checks.text(value)
