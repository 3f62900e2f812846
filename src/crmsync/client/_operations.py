"""Every operation of the host API, defined once as a request: the sync and async clients
send exactly these, so the two cannot drift.

Adding a route: a ``Route`` constant (listed in ``ROUTES``), a function returning its
``Call`` (or a ``Pager``), a model in ``models.py`` for its answer, and one line in each of
``Client`` and ``AsyncClient`` with the same signature (``tests/client`` checks all four).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from crmsync.client._call import Call, Credential, Pager, Route, model, models, text
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

PUT_PERSON = Route("PUT", "/api/v1/people/{person_id}")
PUT_PEOPLE = Route("PUT", "/api/v1/people")
CREATE_ORG = Route("POST", "/api/v1/orgs")
CREATE_USER = Route("POST", "/api/v1/orgs/{org_id}/users")
UPDATE_USER = Route("PATCH", "/api/v1/orgs/{org_id}/users/{user_id}")
UNLOCK = Route("POST", "/api/v1/orgs/{org_id}/unlocks")
RECORD_CONVERSATIONS = Route("POST", "/api/v1/orgs/{org_id}/conversations")
CONNECT = Route("POST", "/api/v1/orgs/{org_id}/connection")
LIST_PROVIDERS = Route("GET", "/api/v1/providers")
CONNECT_WITH_API_KEY = Route("POST", "/api/v1/orgs/{org_id}/connection/api-key")
GET_CONNECTION = Route("GET", "/api/v1/orgs/{org_id}/connection")
UPDATE_CONNECTION = Route("PATCH", "/api/v1/orgs/{org_id}/connection")
DISCONNECT = Route("DELETE", "/api/v1/orgs/{org_id}/connection")
CHECK_SETUP = Route("POST", "/api/v1/orgs/{org_id}/connection/setup")
RECONNECT = Route("POST", "/api/v1/orgs/{org_id}/connection/reconnect")
SYNC_NOW = Route("POST", "/api/v1/orgs/{org_id}/connection/sync")
PREVIEW = Route("POST", "/api/v1/orgs/{org_id}/connection/preview")
LIST_OPERATIONS = Route("GET", "/api/v1/orgs/{org_id}/operations")
RETRY_OPERATION = Route("POST", "/api/v1/orgs/{org_id}/operations/{operation_id}/retry")
RETRY_FAILED = Route("POST", "/api/v1/orgs/{org_id}/operations/retry-failed")
PERSON_SYNC = Route("GET", "/api/v1/orgs/{org_id}/people/{person_id}/sync")
PUSH_PERSON = Route("POST", "/api/v1/orgs/{org_id}/people/{person_id}/sync")
REPORT_SCORE = Route("PUT", "/api/v1/orgs/{org_id}/people/{person_id}/score")
ASSIGN_TODO = Route("PUT", "/api/v1/orgs/{org_id}/people/{person_id}/todo")
LIST_CHANGES = Route("GET", "/api/v1/orgs/{org_id}/changes")
CREATE_WEBHOOK = Route("POST", "/api/v1/orgs/{org_id}/webhooks")
LIST_WEBHOOKS = Route("GET", "/api/v1/orgs/{org_id}/webhooks")
DELETE_WEBHOOK = Route("DELETE", "/api/v1/orgs/{org_id}/webhooks/{endpoint_id}")
LIST_DELIVERIES = Route("GET", "/api/v1/orgs/{org_id}/webhooks/{endpoint_id}/deliveries")
GET_RECORD = Route("GET", "/api/v1/orgs/{org_id}/records/{entity}/{record_id}")
LIST_APP_FIELDS = Route("GET", "/api/v1/orgs/{org_id}/fields")
SAVE_APP_FIELDS = Route("PUT", "/api/v1/orgs/{org_id}/fields")
CRM_FIELDS = Route("GET", "/api/v1/orgs/{org_id}/connection/fields")
GET_MAPPINGS = Route("GET", "/api/v1/orgs/{org_id}/connection/mappings")
SAVE_MAPPINGS = Route("PUT", "/api/v1/orgs/{org_id}/connection/mappings")
HEALTH = Route("GET", "/healthz")
READINESS = Route("GET", "/readyz")
METRICS = Route("GET", "/metrics")

ROUTES = (
    PUT_PERSON,
    PUT_PEOPLE,
    CREATE_ORG,
    CREATE_USER,
    UPDATE_USER,
    UNLOCK,
    RECORD_CONVERSATIONS,
    LIST_PROVIDERS,
    CONNECT,
    CONNECT_WITH_API_KEY,
    GET_CONNECTION,
    UPDATE_CONNECTION,
    DISCONNECT,
    CHECK_SETUP,
    SYNC_NOW,
    PREVIEW,
    RECONNECT,
    LIST_OPERATIONS,
    RETRY_OPERATION,
    RETRY_FAILED,
    PERSON_SYNC,
    PUSH_PERSON,
    REPORT_SCORE,
    ASSIGN_TODO,
    LIST_CHANGES,
    CREATE_WEBHOOK,
    LIST_WEBHOOKS,
    DELETE_WEBHOOK,
    LIST_DELIVERIES,
    GET_RECORD,
    LIST_APP_FIELDS,
    SAVE_APP_FIELDS,
    CRM_FIELDS,
    GET_MAPPINGS,
    SAVE_MAPPINGS,
    HEALTH,
    READINESS,
    METRICS,
)
"""The routes the client covers; a test holds them to the API's OpenAPI document."""

_person_saved = model(PersonSaved)
_people_saved = model(PeopleSaved)
_org = model(Org)
_user = model(User)
_unlocks = model(UnlocksAccepted)
_conversations = model(ConversationsAccepted)
_authorization = model(Authorization)
_connection = model(Connection)
_providers = models(Provider)
_preview = model(Preview)
_message = model(Message)
_operations = models(Operation)
_person_sync = model(PersonSync)
_triggered = model(Triggered)
_health = model(Health)
_changes = model(ChangesPage)
_webhook = model(Webhook)
_webhooks = models(Webhook)
_webhook_deleted = model(WebhookDeleted)
_deliveries = models(Delivery)
_record = model(Record)
_app_fields = models(AppField)
_crm_fields = model(CrmFields)
_mappings = model(Mappings)
_mappings_saved = model(MappingsSaved)


def _sent(person: Person) -> dict[str, Any]:
    """The fields the caller set (a PUT stores exactly what is sent)."""
    return person.model_dump(mode="json", exclude_unset=True)


def _given(**fields: Any) -> dict[str, Any]:
    """A body of the fields that were given: ``None`` means "leave it as it is"."""
    return {name: value for name, value in fields.items() if value is not None}


# -- people, orgs, users, unlocks ------------------------------------------------------


def put_person(person_id: str, person: Person) -> Call[PersonSaved]:
    return PUT_PERSON.call(_person_saved, path={"person_id": person_id}, body=_sent(person))


def put_people(people: Mapping[str, Person]) -> Call[PeopleSaved]:
    body = [{"person_id": person_id, **_sent(p)} for person_id, p in people.items()]
    return PUT_PEOPLE.call(_people_saved, body=body)


def create_org(name: str, *, id: str | None = None) -> Call[Org]:
    return CREATE_ORG.call(_org, body=_given(id=id, name=name))


def create_user(
    org_id: str,
    email: str,
    *,
    id: str | None = None,
    name: str = "",
    role: Role = "member",
    password: str | None = None,
) -> Call[User]:
    body = _given(id=id, email=email, name=name, role=role, password=password)
    return CREATE_USER.call(_user, path={"org_id": org_id}, body=body)


def update_user(
    org_id: str, user_id: str, *, password: str | None = None, disabled: bool | None = None
) -> Call[User]:
    body = _given(password=password, disabled=disabled)
    return UPDATE_USER.call(_user, path={"org_id": org_id, "user_id": user_id}, body=body)


def unlock(org_id: str, person_id: str, unlocked_by: str) -> Call[UnlocksAccepted]:
    body = {"person_id": person_id, "unlocked_by": unlocked_by}
    return UNLOCK.call(_unlocks, path={"org_id": org_id}, body=body)


def unlock_many(org_id: str, unlocks: Sequence[Unlock]) -> Call[UnlocksAccepted]:
    body = [u.model_dump(mode="json") for u in unlocks]
    return UNLOCK.call(_unlocks, path={"org_id": org_id}, body=body)


def record_conversations(
    org_id: str, conversations: Sequence[Conversation]
) -> Call[ConversationsAccepted]:
    body = [c.model_dump(mode="json") for c in conversations]
    return RECORD_CONVERSATIONS.call(_conversations, path={"org_id": org_id}, body=body)


# -- the connection --------------------------------------------------------------------


def connect(
    org_id: str,
    provider: str,
    *,
    skip_backfill: bool = False,
    options: Mapping[str, str] | None = None,
) -> Call[Authorization]:
    body = {"provider": provider, "skip_backfill": skip_backfill, "options": dict(options or {})}
    return CONNECT.call(_authorization, path={"org_id": org_id}, body=body)


def list_providers() -> Call[list[Provider]]:
    return LIST_PROVIDERS.call(_providers)


def connect_with_api_key(
    org_id: str, provider: str, api_key: str, *, skip_backfill: bool = False
) -> Call[Connection]:
    body = {"provider": provider, "api_key": api_key, "skip_backfill": skip_backfill}
    return CONNECT_WITH_API_KEY.call(_connection, path={"org_id": org_id}, body=body)


def get_connection(org_id: str) -> Call[Connection]:
    return GET_CONNECTION.call(_connection, path={"org_id": org_id})


def update_connection(
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
) -> Call[Connection]:
    """``import_mode``: match_existing | update_existing | create_new; ``export_mode``: all |
    match_existing_import_new | update_existing_import_new; ``push_score_threshold="off"``
    switches the score trigger off (None leaves it)."""
    body = _given(
        preserve_manual_edits=preserve_manual_edits,
        settings=None if settings is None else dict(settings),
        sync_interval_minutes=sync_interval_minutes,
        conversations_enabled=conversations_enabled,
        import_mode=import_mode,
        export_mode=export_mode,
        push_enabled=push_enabled,
        push_on_unlock=push_on_unlock,
        push_score_threshold=push_score_threshold,
        changed_by=changed_by,
    )
    if push_score_threshold == "off":
        body["push_score_threshold"] = None
    return UPDATE_CONNECTION.call(_connection, path={"org_id": org_id}, body=body)


def sync_now(org_id: str, *, full: bool = False) -> Call[Message]:
    """Read the CRM's changes back now; ``full`` reads everything (reconciliation)."""
    return SYNC_NOW.call(_message, path={"org_id": org_id}, body={"full": full})


def preview(
    org_id: str,
    *,
    direction: str,
    crm_id: str | None = None,
    person_id: str | None = None,
    run: bool = False,
) -> Call[Preview]:
    """Preview and test one import (``crm_id``) or export (``person_id``): field by field,
    writing nothing; ``run`` does it for real (it then tops the operations log)."""
    body = {"direction": direction, "run": run, **_given(crm_id=crm_id, person_id=person_id)}
    return PREVIEW.call(_preview, path={"org_id": org_id}, body=body)


def disconnect(org_id: str) -> Call[Message]:
    return DISCONNECT.call(_message, path={"org_id": org_id})


def check_setup(org_id: str, *, create_missing_fields: bool = False) -> Call[Connection]:
    body = {"create_missing_fields": create_missing_fields}
    return CHECK_SETUP.call(_connection, path={"org_id": org_id}, body=body)


def reconnect(org_id: str) -> Call[Authorization]:
    return RECONNECT.call(_authorization, path={"org_id": org_id})


# -- the integration log ---------------------------------------------------------------


def list_operations(
    org_id: str,
    *,
    status: str | None = None,
    person_id: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> Call[list[Operation]]:
    params = {"status": status, "person_id": person_id, "limit": limit, "before_id": before_id}
    return LIST_OPERATIONS.call(_operations, path={"org_id": org_id}, params=params)


def iter_operations(
    org_id: str, *, status: str | None = None, person_id: str | None = None, page_size: int = 500
) -> Pager[Operation]:
    """Every operation, newest first, a page of ``page_size`` at a time."""

    def older(page: list[Operation]) -> Call[list[Operation]] | None:
        if len(page) < page_size:
            return None
        return list_operations(
            org_id, status=status, person_id=person_id, limit=page_size, before_id=page[-1].id
        )

    first = list_operations(org_id, status=status, person_id=person_id, limit=page_size)
    return Pager(first, older)


def retry_operation(org_id: str, operation_id: int) -> Call[Message]:
    path: dict[str, str | int] = {"org_id": org_id, "operation_id": operation_id}
    return RETRY_OPERATION.call(_message, path=path)


def retry_failed(org_id: str) -> Call[Message]:
    return RETRY_FAILED.call(_message, path={"org_id": org_id})


def person_sync(org_id: str, person_id: str) -> Call[PersonSync]:
    return PERSON_SYNC.call(_person_sync, path={"org_id": org_id, "person_id": person_id})


def push_person(org_id: str, person_id: str) -> Call[Triggered]:
    """Push the contact now, in the live lane (the admin UI's "Sync to CRM")."""
    return PUSH_PERSON.call(_triggered, path={"org_id": org_id, "person_id": person_id})


def report_score(org_id: str, person_id: str, score: float) -> Call[Triggered]:
    """Store the person's score; at or above the threshold it pushes, once per crossing."""
    path = {"org_id": org_id, "person_id": person_id}
    return REPORT_SCORE.call(_triggered, path=path, body={"score": score})


def assign_todo(org_id: str, person_id: str, assigned_to: str) -> Call[Triggered]:
    """A to-do assigned to the org user ``assigned_to``: pushed with them as owner."""
    path = {"org_id": org_id, "person_id": person_id}
    return ASSIGN_TODO.call(_triggered, path=path, body={"assigned_to": assigned_to})


# -- two-way sync ----------------------------------------------------------------------


def list_changes(org_id: str, *, after: int = 0, limit: int = 100) -> Call[ChangesPage]:
    """The org's changes after ``after`` (exclusive), oldest first; poll with ``next``."""
    params = {"after": after, "limit": limit}
    return LIST_CHANGES.call(_changes, path={"org_id": org_id}, params=params)


def create_webhook(org_id: str, url: str) -> Call[Webhook]:
    return CREATE_WEBHOOK.call(_webhook, path={"org_id": org_id}, body={"url": url})


def list_webhooks(org_id: str) -> Call[list[Webhook]]:
    return LIST_WEBHOOKS.call(_webhooks, path={"org_id": org_id})


def delete_webhook(org_id: str, endpoint_id: str) -> Call[WebhookDeleted]:
    path = {"org_id": org_id, "endpoint_id": endpoint_id}
    return DELETE_WEBHOOK.call(_webhook_deleted, path=path)


def list_deliveries(org_id: str, endpoint_id: str, *, limit: int = 100) -> Call[list[Delivery]]:
    path = {"org_id": org_id, "endpoint_id": endpoint_id}
    return LIST_DELIVERIES.call(_deliveries, path=path, params={"limit": limit})


def get_record(org_id: str, entity: str, record_id: str) -> Call[Record]:
    path = {"org_id": org_id, "entity": entity, "record_id": record_id}
    return GET_RECORD.call(_record, path=path)


# -- mappings --------------------------------------------------------------------------


def list_app_fields(org_id: str) -> Call[list[AppField]]:
    return LIST_APP_FIELDS.call(_app_fields, path={"org_id": org_id})


def save_app_fields(
    org_id: str, fields: Sequence[CustomField], *, changed_by: str | None = None
) -> Call[list[AppField]]:
    """Declare the org's custom fields, the whole set; ``changed_by`` must be an org admin."""
    body = _given(fields=[f.model_dump(mode="json") for f in fields], changed_by=changed_by)
    return SAVE_APP_FIELDS.call(_app_fields, path={"org_id": org_id}, body=body)


def crm_fields(org_id: str, *, refresh: bool = False) -> Call[CrmFields]:
    """The CRM's field catalogue, read again from the CRM with ``refresh``."""
    return CRM_FIELDS.call(_crm_fields, path={"org_id": org_id}, params={"refresh": refresh})


def get_mappings(org_id: str) -> Call[Mappings]:
    return GET_MAPPINGS.call(_mappings, path={"org_id": org_id})


def save_mappings(
    org_id: str, objects: Sequence[ObjectMapping], *, changed_by: str | None = None
) -> Call[MappingsSaved]:
    """Replace the field mappings (each object mapping once); refused whole when invalid."""
    body = _given(
        objects=[o.model_dump(mode="json", exclude_none=True) for o in objects],
        changed_by=changed_by,
    )
    return SAVE_MAPPINGS.call(_mappings_saved, path={"org_id": org_id}, body=body)


# -- health ----------------------------------------------------------------------------


def health() -> Call[Health]:
    return HEALTH.call(_health, credential=Credential.NONE)


def readiness() -> Call[Health]:
    return READINESS.call(_health, credential=Credential.NONE)


def metrics(token: str | None = None) -> Call[str]:
    """Without ``token``, the service answers only clients on its own host (loopback)."""
    return METRICS.call(text, credential=Credential.TOKEN, token=token)
