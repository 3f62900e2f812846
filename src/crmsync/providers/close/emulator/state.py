"""The Close emulator's state: organisation data plus the toolkit pieces around it.

In-process tests reach it as ``app.state.emulator`` to seed and inspect without HTTP.
"""

from __future__ import annotations

from crmsync.emulation import OAuthApp, OAuthStore
from crmsync.emulation.state import EmulatorState, window_limiter
from crmsync.providers.close.emulator.config import CloseEmulatorConfig
from crmsync.providers.close.emulator.journal import Journal
from crmsync.providers.close.emulator.logged_store import LoggedStore
from crmsync.providers.close.emulator.notes import NoteStore
from crmsync.providers.close.emulator.opportunities import OpportunityStore
from crmsync.providers.close.emulator.pipelines import PipelineStore
from crmsync.providers.close.emulator.policy import ClosePolicy
from crmsync.providers.close.emulator.records import new_id
from crmsync.providers.close.emulator.store import CloseStore
from crmsync.providers.close.emulator.webhooks import Webhooks


class CloseEmulator(EmulatorState):
    """A few Close organisations, their admin, and one installed OAuth app."""

    def __init__(self, config: CloseEmulatorConfig, *, served: bool = False) -> None:
        self.config = config
        self.store = CloseStore(
            clock=config.clock,
            organizations=config.organizations,
            admin_email=config.admin_email,
            consolidate_seconds=config.consolidate_seconds,
        )
        self.webhooks = Webhooks(config.clock)
        self.notes = NoteStore(
            now=self.store.now, lead_of=self.store.lead_of, lead_exists=self.store.has_lead
        )
        self.store.events.listeners.append(self.webhooks.on_event)
        self.journal = Journal(self.store.lock, self.store.events, config.clock)
        self.pipelines = PipelineStore(self.store.now, list(self.store.organizations))
        self.opportunities = OpportunityStore(
            now=self.store.now,
            journal=self.journal,
            pipelines=self.pipelines,
            lead_exists=self.store.has_lead,
            lead_of=self.store.lead_of,
            members=self._member_ids,
        )
        self.logged = LoggedStore(
            now=self.store.now,
            journal=self.journal,
            lead_exists=self.store.has_lead,
            lead_of=self.store.lead_of,
            members=self._member_ids,
        )
        per_key, interval = config.max_requests, config.interval_seconds
        enabled = config.rate_limit_enabled
        self.limiter = window_limiter(config, per_key, interval, enabled=enabled)
        self.org_limiter = window_limiter(
            config, per_key * config.organization_multiplier, interval, enabled=enabled
        )
        super().__init__(
            config,
            served=served,
            oauth=OAuthStore(
                app=OAuthApp(config.client_id, config.client_secret),
                access_token_ttl=config.access_token_ttl,
                rotate_refresh_tokens=config.rotate_refresh_tokens,
                clock=config.clock,
                access_token_factory=lambda: new_id("access_"),
                refresh_token_factory=lambda: new_id("refresh_"),
            ),
            rate_limiter=self.limiter,
            reset_data=self._reset_data,
            linked_limiters=(self.org_limiter,),
        )
        self.policy = ClosePolicy(
            self,
            config=config,
            limiter=self.limiter,
            org_limiter=self.org_limiter,
            primary_org=self.store.primary_id,
        )

    @property
    def organization_id(self) -> str:
        """The first organisation: seeded users and the harness's records live there."""
        return self.store.primary_id

    def add_user(self, email: str, first_name: str = "", last_name: str = "") -> str:
        """A member of the first organisation; returns the ``user_…`` id an owner field holds."""
        return self.store.add_user(email, first_name, last_name).id

    def _member_ids(self, org_id: str) -> set[str]:
        return {user.id for user in self.store.members(org_id)}

    def _reset_data(self) -> None:
        self.store.reset()
        self.webhooks.reset()
        self.notes.reset()
        self.pipelines.reset()
        self.opportunities.reset()
        self.logged.reset()
        self.policy.fault_scope = None
