"""The Salesforce emulator's state: one org, its records and jobs, and the toolkit pieces.

In-process tests reach it as ``app.state.emulator`` to seed and inspect without HTTP.
"""

from __future__ import annotations

import secrets
from typing import Any

from crmsync.emulation import OAuthApp, OAuthStore
from crmsync.emulation.state import EmulatorState
from crmsync.providers.salesforce.emulator import lifecycle, sales_setup
from crmsync.providers.salesforce.emulator.allocation import DailyAllocation
from crmsync.providers.salesforce.emulator.clock import ShiftedClock
from crmsync.providers.salesforce.emulator.config import SalesforceEmulatorConfig
from crmsync.providers.salesforce.emulator.conversation_object import conversation_object
from crmsync.providers.salesforce.emulator.ids import KEY_PREFIXES, IdFactory
from crmsync.providers.salesforce.emulator.ingest import IngestJobs
from crmsync.providers.salesforce.emulator.policy import SalesforcePolicy
from crmsync.providers.salesforce.emulator.schema import custom_field
from crmsync.providers.salesforce.emulator.store import OrgStore, Row, WriteContext

KEPT_ON_RESET = ("User", "Organization", *sales_setup.SETUP_OBJECTS)
CUSTOMISED = ("Lead", "Account", "Contact", "Opportunity", "Task", "Event")
"""The objects whose Tooling API custom fields a reset removes."""


class SalesforceEmulator(EmulatorState):
    """One Salesforce org with one connected app (and, by default, the app's package)."""

    def __init__(self, config: SalesforceEmulatorConfig, *, served: bool = False) -> None:
        self.clock = ShiftedClock(config.clock)
        config.clock = self.clock  # every part reads the one clock a harness can move
        self.config = config
        self.ids = IdFactory()
        self.org_id = self.ids.org_id()
        self.store = OrgStore(
            self.ids,
            config.clock,
            duplicate_rule=config.duplicate_rule,
            duplicate_rule_name=config.duplicate_rule_name,
        )
        self.started_at = config.clock()
        self.store.install(
            "Organization",
            self.org_id,
            {
                "Name": config.org_name,
                "OrganizationType": config.organization_type,
                "InstanceName": config.instance_name,
                "IsSandbox": config.is_sandbox,
            },
        )
        self.admin_id = self.add_user(config.admin_email, "Admin", "User")
        self._crm_user: str | None = None
        self.install_package()
        sales_setup.seed_stages(self.store)
        self.jobs = IngestJobs(self.store)
        self.jobs.polls_in_progress = config.bulk_polls_in_progress
        self.jobs.fail_after = config.bulk_fail_after
        self.cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self.allocation = DailyAllocation(
            max_requests=config.daily_allocation,
            interval_seconds=config.allocation_window_seconds,
            enabled=config.allocation_enabled,
            clock=config.clock,
        )
        super().__init__(
            config,
            served=served,
            oauth=OAuthStore(
                app=OAuthApp(config.client_id, config.client_secret),
                access_token_ttl=config.session_seconds,
                rotate_refresh_tokens=config.rotate_refresh_tokens,
                clock=config.clock,
                access_token_factory=self._access_token,
                refresh_token_factory=lambda: "5Aep861" + secrets.token_urlsafe(60),
            ),
            rate_limiter=self.allocation,
            reset_data=self.reset_data,
        )
        self.policy = SalesforcePolicy(self, org_id=self.org_id, allocation=self.allocation)

    def _access_token(self) -> str:
        """Shaped like Salesforce's session ids: the 15-character org id, ``!``, opaque."""
        return f"{self.org_id[:15]}!{secrets.token_urlsafe(72)}"

    def install_package(self) -> None:
        """What the app's managed package adds: its Lead custom fields and its objects."""
        for index, name in enumerate(self.config.package_objects):
            self.store.add_object(conversation_object(name, f"a0{index + 1}"))
        for name in self.config.package_fields:
            person_id = name.endswith("_Person_ID__c")
            metadata = {
                "label": name.removesuffix("__c").replace("_", " "),
                "type": "Text" if person_id else "Url",
                "length": 255,
                "externalId": person_id,
                "unique": person_id,
            }
            self.store.add_field("Lead", custom_field(f"Lead.{name}", metadata))

    def add_user(
        self, email: str, first_name: str = "", last_name: str = "", active: bool = True
    ) -> str:
        """A user of the org who can own records; returns the ``OwnerId`` to use."""
        user = {
            "Username": email.lower(),
            "Email": email,
            "FirstName": first_name or None,
            "LastName": last_name or email.split("@")[0],
            "IsActive": active,
            "UserType": "Standard",
        }
        return str(self.store.create("User", user, WriteContext("", manual=True))["Id"])

    def context(
        self, user_id: str | None = None, *, allow_save: bool = False, assign: str = "FALSE"
    ) -> WriteContext:
        """An API write's context; ``assign`` is its ``Sforce-Auto-Assign`` value."""
        rule, on_updates = self.store.assignment_rule(assign)
        return WriteContext(
            user_id or self.admin_id,
            allow_save=allow_save,
            assignment_rule=rule,
            assign_updates=on_updates,
        )

    def set_assignment_rule(
        self, owner_id: str, name: str = "Standard", active: bool = True
    ) -> str:
        """A lead assignment rule with one entry, "every lead goes to ``owner_id``" (a user, or
        a queue that takes leads); an org has at most one active lead rule, so activating it
        deactivates the others."""
        if owner_id.startswith(KEY_PREFIXES["Group"]):
            owner = sales_setup.lead_queue(self.store, owner_id)
        else:
            owner = self.store.get("User", owner_id)["Id"]
        with self.store.lock:
            rules = self.store.rows["AssignmentRule"]
            if active:
                for rule in rules.values():
                    rule["Active"] = False
            rule_id = self.ids.new(KEY_PREFIXES["AssignmentRule"])
            values = {"Name": name, "Active": active, "SobjectType": "Lead"}
            self.store.install("AssignmentRule", rule_id, values)
            self.store.assignees[rule_id] = owner
        return rule_id

    def add_record_type(self, name: str, stages: tuple[str, ...], active: bool = True) -> str:
        """An Opportunity record type whose sales process allows ``stages``."""
        return sales_setup.add_record_type(self.store, name, stages, active)

    def add_queue(self, name: str, sobjects: tuple[str, ...], email: str | None = None) -> str:
        """A queue taking records of ``sobjects`` (``Lead``, ``Case``); its ``00G`` id."""
        return sales_setup.add_queue(self.store, name, sobjects, email)

    def records(self, sobject: str) -> list[Row]:
        return self.store.snapshot(sobject)

    def crm_user(self) -> str:
        """The user harness controls act as (created on first use): someone other than
        the user crmsync's connection writes as."""
        if self._crm_user is None:
            self._crm_user = self.add_user(self.config.crm_user_email, "Sam", "Sales")
        return self._crm_user

    def convert_lead(self, lead_id: str, opportunity: bool = False) -> Row:
        return lifecycle.convert_lead(
            self.store, lead_id, WriteContext(self.crm_user()), opportunity
        )

    def delete(self, sobject: str, record_id: str) -> Row:
        return self.store.delete(sobject, record_id, self.crm_user())

    def undelete(self, sobject: str, record_id: str) -> Row:
        return self.store.restore(sobject, record_id, self.crm_user())

    def merge(self, sobject: str, master_id: str, merged: list[str]) -> Row:
        return lifecycle.merge(self.store, sobject, master_id, merged, self.crm_user())

    def purge_deleted(self, everything: bool = False) -> int:
        """Physically delete what outlived the retention (or empty the bin)."""
        seconds = self.config.deleted_retention_days * 86_400
        return lifecycle.purge(self.store, seconds, everything)

    def reset_data(self) -> None:
        """Every record but the users goes; custom fields back to the package's."""
        with self.store.lock:
            for name, rows in self.store.rows.items():
                if name not in KEPT_ON_RESET:
                    rows.clear()
            for log in self.store.deleted.values():
                log.clear()
            for recycled in self.store.recycled.values():
                recycled.clear()
            self.store.purged.clear()
            self.store.rows["AssignmentRule"].clear()
            self.store.assignees.clear()
            for sobject in CUSTOMISED:
                for field_name in [
                    f.name for f in self.store.objects[sobject].fields.values() if f.custom
                ]:
                    self.store.remove_field(sobject, field_name)
            self.install_package()
            self.store.duplicate_rule = self.config.duplicate_rule
        self.cursors.clear()
        self.jobs.jobs.clear()
