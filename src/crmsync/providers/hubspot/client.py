"""Typed calls to HubSpot's CRM v3 API, through the shared ApiClient."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from crmsync import jsoncodec
from crmsync.connectors.http import ApiClient, RateBudget, RetryPolicy, retry_after_header
from crmsync.connectors.paging import PageRequest, TokenPaging, collect
from crmsync.connectors.spec import ProviderSpec
from crmsync.errors import ApiProblem

CATEGORY_STATUS = {
    "CONFLICT": 409,
    "VALIDATION_ERROR": 400,
    "OBJECT_NOT_FOUND": 404,
    "RATE_LIMIT": 429,
    "RATE_LIMITS": 429,
}
"""Item-level errors in a 207 carry a category but no status; this gives them one."""


def parse_problem(response: httpx.Response) -> ApiProblem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    retry_after = retry_after_header(response)
    if response.status_code == 429 and retry_after is None:
        # A rolling window frees capacity continuously (110 per 10 s is one per ~0.09 s), and
        # HubSpot's 429 names no wait: a second is enough, the full interval wastes up to 10 s.
        retry_after = 1.0
    return ApiProblem(
        status=response.status_code,
        code=body.get("category") or body.get("errorType") or body.get("status"),
        message=str(body.get("message") or response.reason_phrase),
        retry_after=retry_after,
    )


def item_problem(error: dict[str, Any]) -> ApiProblem:
    category = str(error.get("category") or "")
    return ApiProblem(
        status=CATEGORY_STATUS.get(category, 400),
        code=category or None,
        message=str(error.get("message") or ""),
    )


PAGED = TokenPaging(items=("results",), token=("paging", "next", "after"), send_as="after")
"""HubSpot's list and search calls: ``paging.next.after`` names the next page."""


class HubSpotClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        spec: ProviderSpec,
        budget: RateBudget,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.api = ApiClient(http, spec, budget, parse_problem, retry)

    async def account_details(self) -> dict[str, Any]:
        """The portal the token belongs to. (``/oauth/v1/access-tokens/{token}`` would tell
        too, but puts the token in a URL, where HTTP logs keep it.)"""
        result: dict[str, Any] = await self.api.json("GET", "/account-info/v3/details")
        return result

    async def contact_properties(self) -> list[dict[str, Any]]:
        body = await self.api.json("GET", "/crm/v3/properties/contacts")
        return list(body.get("results", []))

    async def property_groups(self) -> list[dict[str, Any]]:
        body = await self.api.json("GET", "/crm/v3/properties/contacts/groups")
        return list(body.get("results", []))

    async def create_group(self, name: str, label: str) -> None:
        await self.api.request(
            "POST",
            "/crm/v3/properties/contacts/groups",
            json={"name": name, "label": label, "displayOrder": -1},
            accept={409: True},
        )

    async def create_property(self, definition: dict[str, Any]) -> None:
        await self.api.request(
            "POST", "/crm/v3/properties/contacts", json=definition, accept={409: True}
        )

    async def owners(self) -> list[dict[str, Any]]:
        request = PageRequest("GET", "/crm/v3/owners", {"limit": 100, "archived": "false"})
        return await collect(self.api.page, request, PAGED)

    async def batch_upsert(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """Upsert by a unique property: 200 when all landed, 207 with per-item errors."""
        response = await self.api.request(
            "POST",
            "/crm/v3/objects/contacts/batch/upsert",
            json={"inputs": inputs},
            accept={207: True},
        )
        body: dict[str, Any] = jsoncodec.loads(response.content)  # a result per record
        return body

    async def batch_update(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """Update by HubSpot id: 200 when all landed, 207 with per-item errors (an id HubSpot
        does not have is ``OBJECT_NOT_FOUND``)."""
        response = await self.api.request(
            "POST",
            "/crm/v3/objects/contacts/batch/update",
            json={"inputs": inputs},
            accept={207: True},
        )
        body: dict[str, Any] = jsoncodec.loads(response.content)
        return body

    async def create_note(self, properties: dict[str, Any], contact_id: str) -> dict[str, Any]:
        """A note associated with a contact (association type 202: note to contact)."""
        association = {
            "to": {"id": contact_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
        }
        body = {"properties": properties, "associations": [association]}
        result: dict[str, Any] = await self.api.json("POST", "/crm/v3/objects/notes", json=body)
        return result

    async def update_note(self, note_id: str, properties: dict[str, Any]) -> dict[str, Any] | None:
        """The note updated in place; None if HubSpot no longer has it."""
        response = await self.api.request(
            "PATCH",
            f"/crm/v3/objects/notes/{note_id}",
            json={"properties": properties},
            accept={404: True},
        )
        if response.status_code == 404:
            return None
        result: dict[str, Any] = jsoncodec.loads(response.content)
        return result

    async def batch_read(
        self, ids: list[str], properties: list[str], history: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Contacts by id (up to 100, or 50 with ``history``: HubSpot's limit for
        ``propertiesWithHistory``); ids HubSpot no longer has are left out (a 207)."""
        body: dict[str, Any] = {"inputs": [{"id": i} for i in ids], "properties": properties}
        if history:
            body["propertiesWithHistory"] = history
        response = await self.api.request(
            "POST", "/crm/v3/objects/contacts/batch/read", json=body, accept={207: True}
        )
        return list(jsoncodec.loads(response.content).get("results", []))

    async def archived_page(self, after: str | None, limit: int) -> dict[str, Any]:
        """One page of archived contacts (in id order, each with ``archivedAt``)."""
        params: dict[str, Any] = {"archived": "true", "limit": limit}
        if after:
            params["after"] = after
        page: dict[str, Any] = await self.api.json("GET", "/crm/v3/objects/contacts", params=params)
        return page

    async def search(self, body: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
        """One page of ``POST /crm/v3/objects/contacts/search``, and HubSpot's time when it
        answered (its ``Date`` header, epoch ms; None without one)."""
        response = await self.api.request("POST", "/crm/v3/objects/contacts/search", json=body)
        page: dict[str, Any] = jsoncodec.loads(response.content)
        return page, server_time_ms(response.headers.get_list("date"))


def server_time_ms(values: list[str]) -> int | None:
    """The earliest time the ``Date`` headers give (a proxy may add a second one)."""
    times = []
    for value in values:
        try:
            times.append(int(parsedate_to_datetime(value).timestamp() * 1000))
        except (TypeError, ValueError):
            continue
    return min(times) if times else None
