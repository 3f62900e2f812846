"""The client's surface: it covers every host API route, its two clients offer the same
methods, its models have the API's fields, and importing it loads no server code."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

import crmsync.client
from crmsync.client import (
    AppField,
    AsyncClient,
    Authorization,
    BackfillProgress,
    Change,
    ChangeOwner,
    ChangesPage,
    Client,
    Connection,
    Conversation,
    ConversationsAccepted,
    CrmField,
    CrmFields,
    CrmsyncError,
    CustomField,
    Delivery,
    FieldMapping,
    FieldPreview,
    MappedField,
    MappedObject,
    MappingChange,
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
    PushSettings,
    ReadBack,
    Record,
    RecordField,
    SetupState,
    SyncCounts,
    Triggered,
    Unlock,
    UnlocksAccepted,
    User,
    Webhook,
    WebhookDeleted,
    _operations,
    errors,
    models,
)

NOT_FOR_HOSTS = {
    # The CRM redirects the admin's browser (the consent popup) here; no program calls it.
    ("GET", "/oauth/callback/{provider}"),
    # The CRM posts its change events here, signed by the CRM (no host key).
    ("POST", "/webhooks/{provider}"),
}

RESPONSE_MODELS: dict[str, type[BaseModel]] = {
    "AuthorizeOut": Authorization,
    "ProviderOut": Provider,
    "BackfillProgress": BackfillProgress,
    "ConnectionOut": Connection,
    "Message": Message,
    "OperationOut": Operation,
    "OrgOut": Org,
    "PeopleBatchOut": PeopleSaved,
    "PersonOut": PersonSaved,
    "PersonSyncOut": PersonSync,
    "ReadBackOut": ReadBack,
    "SetupState": SetupState,
    "SyncCounts": SyncCounts,
    "UnlocksAccepted": UnlocksAccepted,
    "ConversationsAccepted": ConversationsAccepted,
    "UserOut": User,
    "ChangesPage": ChangesPage,
    "ChangeOut": Change,
    "ChangeOwner": ChangeOwner,
    "WebhookOut": Webhook,
    "WebhookDeleted": WebhookDeleted,
    "DeliveryOut": Delivery,
    "RecordOut": Record,
    "RecordField": RecordField,
    "AppFieldOut": AppField,
    "CrmFieldsOut": CrmFields,
    "CrmFieldOut": CrmField,
    "MappingsOut": Mappings,
    "ObjectMappingOut": MappedObject,
    "FieldMappingOut": MappedField,
    "MappingsSaved": MappingsSaved,
    "MappingChangeOut": MappingChange,
    "PreviewOut": Preview,
    "FieldPreviewOut": FieldPreview,
    "PushOut": PushSettings,
    "TriggerOut": Triggered,
}
"""The API's response schemas, by OpenAPI component name, and the client's model of each."""


def _host_routes(app: FastAPI) -> set[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def test_every_host_api_route_has_a_client_operation(app: FastAPI) -> None:
    covered = {(route.method, route.path) for route in _operations.ROUTES}
    assert _host_routes(app) - NOT_FOR_HOSTS - covered == set()
    assert covered - _host_routes(app) == set(), "the client calls a route the API lacks"
    assert len(covered) == len(_operations.ROUTES), "a route is listed twice"


def _operation_functions() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(function)
        for name, function in inspect.getmembers(_operations, inspect.isfunction)
        if function.__module__ == _operations.__name__ and not name.startswith("_")
    }


def _methods(kind: type) -> dict[str, inspect.Signature]:
    framework = {"send", "each", "close", "aclose"}
    return {
        name: inspect.signature(method)
        for name, method in inspect.getmembers(kind, inspect.isfunction)
        if not name.startswith("_") and name not in framework
    }


def _parameters(signature: inspect.Signature) -> list[tuple[str, Any, Any, Any]]:
    return [
        (p.name, p.kind, p.default, p.annotation)
        for p in signature.parameters.values()
        if p.name != "self"
    ]


def test_both_clients_offer_each_operation_with_its_signature() -> None:
    operations = _operation_functions()
    assert len(operations) >= len(_operations.ROUTES)
    for kind in (Client, AsyncClient):
        methods = _methods(kind)
        assert sorted(methods) == sorted(operations), kind.__name__
        for name, signature in operations.items():
            assert _parameters(methods[name]) == _parameters(signature), f"{kind.__name__}.{name}"


def test_async_methods_are_coroutines_and_the_walk_an_async_iterator() -> None:
    for name in _operation_functions():
        method = getattr(AsyncClient, name)
        assert inspect.iscoroutinefunction(method) is (name != "iter_operations"), name


def _referenced(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        found = {ref.rsplit("/", 1)[-1]} if isinstance(ref, str) else set()
        return found.union(*(_referenced(value) for value in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_referenced(value) for value in schema))
    return set()


def test_response_models_have_the_fields_of_the_api_schemas(app: FastAPI) -> None:
    document = app.openapi()
    components: dict[str, Any] = document["components"]["schemas"]
    answers: set[str] = set()
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if (method.upper(), path) not in NOT_FOR_HOSTS:
                for status, answer in op["responses"].items():
                    if status.startswith("2"):
                        answers |= _referenced(answer)
    pending = set(answers)
    while pending:  # nested schemas too (a connection's counts)
        name = pending.pop()
        nested = _referenced(components[name]) - answers
        answers |= nested
        pending |= nested
    assert answers == set(RESPONSE_MODELS)
    for name, model in RESPONSE_MODELS.items():
        assert set(model.model_fields) == set(components[name]["properties"]), name


def test_request_models_have_the_fields_of_the_api_schemas(app: FastAPI) -> None:
    components: dict[str, Any] = app.openapi()["components"]["schemas"]
    assert set(Person.model_fields) == set(components["PersonIn"]["properties"])
    assert set(Unlock.model_fields) == set(components["UnlockIn"]["properties"])
    assert set(Conversation.model_fields) == set(components["ConversationIn"]["properties"])
    for model, component in (
        (CustomField, "AppFieldIn"),
        (FieldMapping, "FieldMappingIn"),
        (ObjectMapping, "ObjectMappingIn"),
    ):
        assert set(model.model_fields) == set(components[component]["properties"]), component


BODY_OF = {
    "create_org": "OrgIn",
    "create_user": "UserIn",
    "update_user": "UserPatch",
    "unlock": "UnlockIn",
    "connect": "ConnectIn",
    "connect_with_api_key": "ApiKeyConnectIn",
    "update_connection": "ConnectionPatch",
    "check_setup": "SetupIn",
    "sync_now": "SyncRequest",
    "create_webhook": "WebhookIn",
    "save_app_fields": "AppFieldsIn",
    "save_mappings": "MappingsIn",
    "preview": "PreviewIn",
    "report_score": "ScoreIn",
    "assign_todo": "TodoIn",
}
"""Operations whose keyword parameters are the fields of a request body, by component name;
the people and the list of unlocks are sent as ``Person`` and ``Unlock`` models."""
AS_MODELS = {"PersonIn", "PersonBatchItem", "UnlockIn", "ConversationIn"}
PERSON_PATH = {"report_score", "assign_todo"}
"""Operations whose ``person_id`` is in the path, not the body."""


def test_operation_parameters_are_the_fields_of_the_request_bodies(app: FastAPI) -> None:
    document = app.openapi()
    components: dict[str, Any] = document["components"]["schemas"]
    bodies: set[str] = set()
    for ops in document["paths"].values():
        for op in ops.values():
            bodies |= _referenced(op.get("requestBody", {}))
    assert bodies == set(BODY_OF.values()) | AS_MODELS, "a body the client does not map"
    operations = _operation_functions()
    for name, component in BODY_OF.items():
        paths = {"org_id", "user_id"} | ({"person_id"} if name in PERSON_PATH else set())
        fields = {p for p in operations[name].parameters if p not in paths}
        assert fields == set(components[component]["properties"]), name


def test_the_log_is_filtered_and_paged_by_the_api_query_parameters(app: FastAPI) -> None:
    route = _operations.LIST_OPERATIONS
    op = app.openapi()["paths"][route.path][route.method.lower()]
    query = {p["name"] for p in op["parameters"] if p["in"] == "query"}
    signature = _operation_functions()["list_operations"]
    assert set(signature.parameters) - {"org_id"} == query


def test_the_package_exports_exactly_its_public_names() -> None:
    exported = crmsync.client.__all__
    assert exported == sorted(exported)
    assert {"Client", "AsyncClient", "CrmsyncError", "Person"} <= set(exported)
    for name in exported:
        assert getattr(crmsync.client, name) is not None
    error_classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, CrmsyncError)
    }
    model_classes = {
        name
        for name, value in vars(models).items()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == models.__name__
        and not name.startswith("_")
    }
    assert error_classes | model_classes <= set(exported)


def test_importing_the_client_loads_no_server_code() -> None:
    probe = (
        "import json, sys; import crmsync.client; "
        "print(json.dumps(sorted(m.split('.')[0] if not m.startswith('crmsync') else m "
        "for m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert "httpx" in loaded and "pydantic" in loaded, "the probe must see what was imported"
    assert loaded.isdisjoint({"fastapi", "starlette", "sqlalchemy", "alembic", "huey"})
    ours = {m for m in loaded if m.startswith("crmsync")}
    assert ours - {"crmsync"} == {m for m in ours if m.startswith("crmsync.client")}
