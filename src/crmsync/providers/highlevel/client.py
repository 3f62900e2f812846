"""Typed calls to HighLevel's API v2 through the shared ApiClient and the location's daily
allowance, and its error bodies."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Sequence
from typing import Any

import httpx

from crmsync.connectors.http import ApiClient, RateBudget, RetryPolicy, retry_after_header
from crmsync.connectors.paging import OffsetPaging, PageNumberPaging, PageRequest, collect
from crmsync.connectors.spec import ProviderSpec
from crmsync.errors import ApiProblem, error_for
from crmsync.providers.highlevel.allocation import HighLevelAllocation
from crmsync.providers.highlevel.spec import CONTACT_NOT_FOUND, DUPLICATE_CONTACT

SEARCH_PAGE_LIMIT = 500
"""The most contacts one search page returns."""
USERS_PAGE_LIMIT = 100


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(body: dict[str, Any], fallback: str) -> str:
    message = body.get("message")
    if isinstance(message, list):  # 422: one message per invalid property
        return "; ".join(str(m) for m in message)
    return str(message or body.get("error_description") or fallback)


def rate_limit_wait(response: httpx.Response, now: float | None = None) -> float | None:
    """How long a 429 asks us to wait, from ``Retry-After`` or the ``X-RateLimit-*`` headers.

    A spent daily allowance (``X-RateLimit-Daily-Remaining: 0``) waits for the next UTC
    midnight (when HighLevel's day resets is unconfirmed). A full burst window names no wait:
    in a rolling window a slot frees as soon as the oldest request leaves it, so None lets the
    client back off briefly and exponentially instead of idling a whole interval.
    """
    explicit = retry_after_header(response)
    if explicit is not None:
        return explicit
    if response.headers.get("X-RateLimit-Daily-Remaining") == "0":
        current = time.time() if now is None else now
        return 86_400 - current % 86_400
    return None


def parse_problem(response: httpx.Response) -> ApiProblem:
    body = _body(response)
    message = _message(body, response.reason_phrase)
    code: str | None = str(body["error"]) if isinstance(body.get("error"), str) else None
    meta = body.get("meta") if isinstance(body.get("meta"), dict) else None
    if meta and meta.get("matchingField"):
        code = DUPLICATE_CONTACT
        message = (
            f"another contact has the same {meta['matchingField']}: "
            f"{meta.get('contactName') or 'unnamed'} (contact {meta.get('contactId')})"
        )
    elif response.status_code == 400 and "not found" in message.lower() and "ontact" in message:
        code = CONTACT_NOT_FOUND
    return ApiProblem(
        status=response.status_code,
        code=code,
        message=message,
        retry_after=rate_limit_wait(response)
        if response.status_code == 429
        else retry_after_header(response),  # a 503 may name its wait too
    )


USERS = OffsetPaging(
    items=("users",), offset="skip", limit="limit", size=USERS_PAGE_LIMIT, total=("count",)
)
"""``GET /users/search``: ``skip``/``limit`` with the ``count`` of all matches."""
FOUND = PageNumberPaging(
    items=("contacts",), page="page", limit="pageLimit", size=SEARCH_PAGE_LIMIT, total=("total",)
)
"""``POST /contacts/search``: numbered pages from 1, with the ``total`` of all matches."""


class HighLevelClient:
    """One method per endpoint crmsync uses; all calls are scoped to one location."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        spec: ProviderSpec,
        budget: RateBudget,
        location_id: str,
        allocation: HighLevelAllocation,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.api = ApiClient(http, spec, budget, parse_problem, retry, allocation.observe)
        self.allocation = allocation
        self.location_id = location_id

    async def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Every call counts towards the day: held back near the allowance."""
        await self.allocation.before_request()
        return await self.api.json(method, url, **kwargs)

    async def _page(self, request: PageRequest) -> Any:
        await self.allocation.before_request()
        return await self.api.page(request)

    async def location(self) -> dict[str, Any]:
        body = await self._json("GET", f"/locations/{self.location_id}")
        location: dict[str, Any] = body.get("location") or {}
        return location

    async def custom_fields(self) -> list[dict[str, Any]]:
        body = await self._json(
            "GET", f"/locations/{self.location_id}/customFields", params={"model": "contact"}
        )
        return list(body.get("customFields") or [])

    async def create_custom_field(self, name: str) -> dict[str, Any]:
        body = await self._json(
            "POST",
            f"/locations/{self.location_id}/customFields",
            json={"name": name, "dataType": "TEXT", "model": "contact"},
            idempotent=False,
        )
        field: dict[str, Any] = body["customField"]
        return field

    async def users(self, company_id: str) -> list[dict[str, Any]]:
        """Every user with access to the location, page by page."""
        params = {"companyId": company_id, "locationId": self.location_id}
        return await collect(self._page, PageRequest("GET", "/users/search", params), USERS)

    async def search_by_field(self, field_id: str, values: Sequence[str]) -> list[dict[str, Any]]:
        """Contacts whose custom field equals any of ``values``: one OR group, one call per
        page (a page holds every match unless people share a Person ID)."""
        group = [
            {"field": f"customFields.{field_id}", "operator": "eq", "value": value}
            for value in values
        ]
        body = {"locationId": self.location_id, "filters": [{"group": "OR", "filters": group}]}
        return await collect(self._page, PageRequest("POST", "/contacts/search", json=body), FOUND)

    async def create_contact(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = await self._json(
            "POST",
            "/contacts/",
            json={"locationId": self.location_id, **payload},
            idempotent=False,
        )
        contact: dict[str, Any] = body["contact"]
        return contact

    async def update_contact(
        self, contact_id: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """PUT sets the given values; sending it twice leaves the same contact, so it retries.
        None when HighLevel has no such contact (a user deleted it)."""
        await self.allocation.before_request()
        response = await self.api.request(
            "PUT", f"/contacts/{contact_id}", json=payload, accept={400: True}
        )
        if response.status_code == 400:
            if parse_problem(response).code == CONTACT_NOT_FOUND:
                return None
            raise error_for(self.api.resolve(response))
        contact: dict[str, Any] = response.json().get("contact") or {"id": contact_id}
        return contact

    async def contact(self, contact_id: str) -> dict[str, Any] | None:
        """``GET /contacts/{id}`` (never behind the search index); None when HighLevel has no
        such contact (or it was deleted)."""
        await self.allocation.before_request()
        response = await self.api.request("GET", f"/contacts/{contact_id}", accept={400: True})
        if response.status_code == 400:
            if parse_problem(response).code == CONTACT_NOT_FOUND:
                return None
            raise error_for(self.api.resolve(response))
        contact: dict[str, Any] = response.json().get("contact") or {}
        return None if contact.get("deleted") else contact

    async def create_note(self, contact_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = await self._json(
            "POST", f"/contacts/{contact_id}/notes", json=payload, idempotent=False
        )
        note: dict[str, Any] = body["note"]
        return note

    async def update_note(
        self, contact_id: str, note_id: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """PUT sets the given values (so it retries); None when HighLevel has no such note
        or contact any more."""
        await self.allocation.before_request()
        response = await self.api.request(
            "PUT", f"/contacts/{contact_id}/notes/{note_id}", json=payload, accept={400: True}
        )
        if response.status_code == 400:
            problem = parse_problem(response)
            if problem.code == CONTACT_NOT_FOUND or "note not found" in problem.message.lower():
                return None
            raise error_for(self.api.resolve(response))
        note: dict[str, Any] = response.json().get("note") or {"id": note_id}
        return note

    async def search(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
        """One page of ``POST /contacts/search`` with ``body`` (in this location), and
        HighLevel's own time of the answer (its ``Date`` header, epoch ms; None without)."""
        await self.allocation.before_request()
        response = await self.api.request(
            "POST", "/contacts/search", json={"locationId": self.location_id, **body}
        )
        return list(response.json().get("contacts") or []), server_time(response)


def server_time(response: httpx.Response) -> int | None:
    try:
        moment = email.utils.parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None
    return int(moment.timestamp() * 1000) if moment.tzinfo else None
