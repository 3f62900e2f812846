"""``AsyncClient``: the host API over an ``httpx.AsyncClient``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx

from crmsync.client import _operations as op
from crmsync.client._call import USER_AGENT, Call, Pager, result
from crmsync.client.models import (
    AppField,
    Authorization,
    ChangesPage,
    Connection,
    Conversation,
    ConversationsAccepted,
    CrmFields,
    CustomField,
    Delivery,
    Health,
    Mappings,
    MappingsSaved,
    Message,
    ObjectMapping,
    Operation,
    Org,
    PeopleSaved,
    Person,
    PersonSaved,
    PersonSync,
    Preview,
    Provider,
    Record,
    Role,
    Triggered,
    Unlock,
    UnlocksAccepted,
    User,
    Webhook,
    WebhookDeleted,
)

T = TypeVar("T")


class AsyncClient:
    """The host API, one method per operation; errors raise ``CrmsyncError``.

    Give ``base_url`` (the client opens and closes its own connection pool), or an
    ``httpx.AsyncClient`` of your own as ``http`` (its base URL, timeouts and transport are used,
    and it is left open)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str,
        http: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
    ) -> None:
        if (base_url is None) == (http is None):
            raise ValueError("give exactly one of base_url and http")
        self._api_key = api_key
        self._owned = http is None
        if http is None:
            http = httpx.AsyncClient(
                base_url=base_url or "", timeout=timeout, headers={"User-Agent": USER_AGENT}
            )
        self._http = http

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def send(self, call: Call[T]) -> T:
        """Sends one request built by ``crmsync.client._operations`` and reads its answer."""
        return result(call, await self._http.send(call.build(self._http, self._api_key)))

    async def each(self, pager: Pager[T]) -> AsyncIterator[T]:
        """Every item of every page, fetching the next page only once this one is used."""
        call: Call[list[T]] | None = pager.first
        while call is not None:
            page = await self.send(call)
            for item in page:
                yield item
            call = pager.follow(page)

    # -- people, orgs, users, unlocks --------------------------------------------------
    async def put_person(self, person_id: str, person: Person) -> PersonSaved:
        """Create or refresh a person; a change is pushed to every org that unlocked them."""
        return await self.send(op.put_person(person_id, person))

    async def put_people(self, people: Mapping[str, Person]) -> PeopleSaved:
        """Up to 1,000 people in one transaction: one bad item refuses all (a 422)."""
        return await self.send(op.put_people(people))

    async def create_org(self, name: str, *, id: str | None = None) -> Org:
        return await self.send(op.create_org(name, id=id))

    async def create_user(
        self,
        org_id: str,
        email: str,
        *,
        id: str | None = None,
        name: str = "",
        role: Role = "member",
        password: str | None = None,
    ) -> User:
        return await self.send(
            op.create_user(org_id, email, id=id, name=name, role=role, password=password)
        )

    async def update_user(
        self,
        org_id: str,
        user_id: str,
        *,
        password: str | None = None,
        disabled: bool | None = None,
    ) -> User:
        """A new password, or disabled (or enabled again): either ends their sessions."""
        return await self.send(
            op.update_user(org_id, user_id, password=password, disabled=disabled)
        )

    async def unlock(self, org_id: str, person_id: str, unlocked_by: str) -> UnlocksAccepted:
        """A user unlocked a person: they reach the org's CRM within seconds."""
        return await self.send(op.unlock(org_id, person_id, unlocked_by))

    async def unlock_many(self, org_id: str, unlocks: Sequence[Unlock]) -> UnlocksAccepted:
        """Up to 1,000 unlocks in one call."""
        return await self.send(op.unlock_many(org_id, unlocks))

    async def record_conversations(
        self, org_id: str, conversations: Sequence[Conversation]
    ) -> ConversationsAccepted:
        """Up to 1,000 conversations, exported to the org's CRM (needs them enabled on the
        connection); sending an id again updates it."""
        return await self.send(op.record_conversations(org_id, conversations))

    # -- the connection ----------------------------------------------------------------
    async def list_providers(self) -> list[Provider]:
        """The CRMs offered, with the options a connection takes and the callback URL an
        organisation's own OAuth app must register."""
        return await self.send(op.list_providers())

    async def connect(
        self,
        org_id: str,
        provider: str,
        *,
        skip_backfill: bool = False,
        options: Mapping[str, str] | None = None,
    ) -> Authorization:
        """Start connecting a CRM: send the org's admin to ``authorize_url``."""
        return await self.send(
            op.connect(org_id, provider, skip_backfill=skip_backfill, options=options)
        )

    async def connect_with_api_key(
        self, org_id: str, provider: str, api_key: str, *, skip_backfill: bool = False
    ) -> Connection:
        """Connect with the CRM's API key instead of OAuth, where the CRM allows it."""
        return await self.send(
            op.connect_with_api_key(org_id, provider, api_key, skip_backfill=skip_backfill)
        )

    async def get_connection(self, org_id: str) -> Connection:
        return await self.send(op.get_connection(org_id))

    async def update_connection(
        self,
        org_id: str,
        *,
        preserve_manual_edits: bool | None = None,
        settings: Mapping[str, Any] | None = None,
        sync_interval_minutes: int | None = None,
        conversations_enabled: bool | None = None,
        import_mode: str | None = None,
        export_mode: str | None = None,
        push_enabled: bool | None = None,
        push_on_unlock: bool | None = None,
        push_score_threshold: float | Literal["off"] | None = None,
        changed_by: str | None = None,
    ) -> Connection:
        """``push_enabled=False`` pauses every push (work stays queued); ``True`` resumes.
        ``push_score_threshold="off"`` switches the score trigger off."""
        return await self.send(
            op.update_connection(
                org_id,
                preserve_manual_edits=preserve_manual_edits,
                settings=settings,
                sync_interval_minutes=sync_interval_minutes,
                conversations_enabled=conversations_enabled,
                import_mode=import_mode,
                export_mode=export_mode,
                push_enabled=push_enabled,
                push_on_unlock=push_on_unlock,
                push_score_threshold=push_score_threshold,
                changed_by=changed_by,
            )
        )

    async def sync_now(self, org_id: str, *, full: bool = False) -> Message:
        """Read the CRM's changes back now; ``full`` reads everything (reconciliation)."""
        return await self.send(op.sync_now(org_id, full=full))

    async def preview(
        self,
        org_id: str,
        *,
        direction: str,
        crm_id: str | None = None,
        person_id: str | None = None,
        run: bool = False,
    ) -> Preview:
        """Preview and test one import (``crm_id``) or export (``person_id``), writing
        nothing; ``run`` does it for real."""
        return await self.send(
            op.preview(org_id, direction=direction, crm_id=crm_id, person_id=person_id, run=run)
        )

    async def disconnect(self, org_id: str) -> Message:
        return await self.send(op.disconnect(org_id))

    async def check_setup(self, org_id: str, *, create_missing_fields: bool = False) -> Connection:
        """Check the CRM's setup again, or let crmsync create the missing fields."""
        return await self.send(op.check_setup(org_id, create_missing_fields=create_missing_fields))

    async def reconnect(self, org_id: str) -> Authorization:
        """Authorise again after the CRM refused the tokens; sync state is kept."""
        return await self.send(op.reconnect(org_id))

    # -- the integration log -----------------------------------------------------------
    async def list_operations(
        self,
        org_id: str,
        *,
        status: str | None = None,
        person_id: str | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[Operation]:
        """One page of the integration log, newest first (``iter_operations`` for all)."""
        return await self.send(
            op.list_operations(
                org_id, status=status, person_id=person_id, limit=limit, before_id=before_id
            )
        )

    def iter_operations(
        self,
        org_id: str,
        *,
        status: str | None = None,
        person_id: str | None = None,
        page_size: int = 500,
    ) -> AsyncIterator[Operation]:
        """The whole integration log, newest first, fetched a page at a time."""
        return self.each(
            op.iter_operations(org_id, status=status, person_id=person_id, page_size=page_size)
        )

    async def retry_operation(self, org_id: str, operation_id: int) -> Message:
        return await self.send(op.retry_operation(org_id, operation_id))

    async def retry_failed(self, org_id: str) -> Message:
        return await self.send(op.retry_failed(org_id))

    async def person_sync(self, org_id: str, person_id: str) -> PersonSync:
        return await self.send(op.person_sync(org_id, person_id))

    async def push_person(self, org_id: str, person_id: str) -> Triggered:
        """Push the contact now, in the live lane (the admin UI's "Sync to CRM")."""
        return await self.send(op.push_person(org_id, person_id))

    async def report_score(self, org_id: str, person_id: str, score: float) -> Triggered:
        """Store the person's score; at or above the threshold it pushes, once per crossing."""
        return await self.send(op.report_score(org_id, person_id, score))

    async def assign_todo(self, org_id: str, person_id: str, assigned_to: str) -> Triggered:
        """A to-do assigned to the org user ``assigned_to``: pushed with them as owner."""
        return await self.send(op.assign_todo(org_id, person_id, assigned_to))

    # -- two-way sync ------------------------------------------------------------------
    async def list_changes(self, org_id: str, *, after: int = 0, limit: int = 100) -> ChangesPage:
        """The org's changes after ``after``, oldest first; pass ``next`` as ``after``."""
        return await self.send(op.list_changes(org_id, after=after, limit=limit))

    async def create_webhook(self, org_id: str, url: str) -> Webhook:
        """Every later change of the org is POSTed to ``url``, signed with ``secret``."""
        return await self.send(op.create_webhook(org_id, url))

    async def list_webhooks(self, org_id: str) -> list[Webhook]:
        return await self.send(op.list_webhooks(org_id))

    async def delete_webhook(self, org_id: str, endpoint_id: str) -> WebhookDeleted:
        """Its pending deliveries are dropped, never sent."""
        return await self.send(op.delete_webhook(org_id, endpoint_id))

    async def list_deliveries(
        self, org_id: str, endpoint_id: str, *, limit: int = 100
    ) -> list[Delivery]:
        return await self.send(op.list_deliveries(org_id, endpoint_id, limit=limit))

    async def get_record(self, org_id: str, entity: str, record_id: str) -> Record:
        return await self.send(op.get_record(org_id, entity, record_id))

    # -- mappings ----------------------------------------------------------------------
    async def list_app_fields(self, org_id: str) -> list[AppField]:
        """The org's fields: the person's, then the custom ones."""
        return await self.send(op.list_app_fields(org_id))

    async def save_app_fields(
        self, org_id: str, fields: Sequence[CustomField], *, changed_by: str | None = None
    ) -> list[AppField]:
        """Declare the org's custom fields (the whole set); a mapped one keeps its type."""
        return await self.send(op.save_app_fields(org_id, fields, changed_by=changed_by))

    async def crm_fields(self, org_id: str, *, refresh: bool = False) -> CrmFields:
        """The CRM's field catalogue; ``refresh`` reads it from the CRM again."""
        return await self.send(op.crm_fields(org_id, refresh=refresh))

    async def get_mappings(self, org_id: str) -> Mappings:
        return await self.send(op.get_mappings(org_id))

    async def save_mappings(
        self, org_id: str, objects: Sequence[ObjectMapping], *, changed_by: str | None = None
    ) -> MappingsSaved:
        """Replace the field mappings; an invalid set raises ``InvalidInput`` and saves
        nothing. The answer says what the next sync will do."""
        return await self.send(op.save_mappings(org_id, objects, changed_by=changed_by))

    # -- health ------------------------------------------------------------------------
    async def health(self) -> Health:
        return await self.send(op.health())

    async def readiness(self) -> Health:
        """Raises ``Unavailable`` (a 503) while the service cannot reach its database."""
        return await self.send(op.readiness())

    async def metrics(self, token: str | None = None) -> str:
        return await self.send(op.metrics(token))
