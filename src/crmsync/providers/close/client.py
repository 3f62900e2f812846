"""Typed calls to Close's REST API (``/api/v1``), through the shared ApiClient.

Close answers a 429 with ``{"error": {"rate_reset": seconds, ...}}`` and a ``RateLimit:
limit=.., remaining=.., reset=..`` header; the ApiClient waits that long and retries. Pacing
itself comes from the budget, not from ``remaining=0`` on successful answers: ``reset`` is whole
seconds, so stopping there would idle up to a second of every window at Close's 20 req/s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from crmsync.connectors.http import ApiClient, RateBudget, RetryPolicy, retry_after_header
from crmsync.connectors.paging import OffsetPaging, PageRequest, TokenPaging, collect, pages
from crmsync.connectors.spec import ProviderSpec
from crmsync.errors import ApiProblem

PAGE_LIMIT = 100
SEARCH_LIMIT = 200
EVENT_LIMIT = 50
"""The event log's largest page."""


def rate_limit_header(response: httpx.Response) -> dict[str, float]:
    """``RateLimit: limit=20, remaining=0, reset=1`` → ``{"limit": 20.0, ...}``; malformed
    parts are ignored, as the RFC asks."""
    values: dict[str, float] = {}
    for part in response.headers.get("RateLimit", "").split(","):
        key, _, value = part.strip().partition("=")
        try:
            values[key.strip().lower()] = float(value)
        except ValueError:
            continue
    return values


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    """``{"contacts": {"0": {"emails": "Invalid"}}}`` → ``["contacts.0.emails: Invalid"]``."""
    if isinstance(errors, Mapping):
        found: list[str] = []
        for key, value in errors.items():
            found += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return found
    if isinstance(errors, list):
        return [text for item in errors for text in _flatten(item, prefix)]
    return [f"{prefix}: {errors}" if prefix else str(errors)]


def describe_errors(body: Mapping[str, Any]) -> str:
    """Close's error bodies in one line: ``{errors, field-errors}`` or ``{"error": ...}``."""
    parts = _flatten(body.get("errors") or []) + _flatten(body.get("field-errors") or {})
    error = body.get("error")
    if isinstance(error, str):
        parts.insert(0, error)
    elif isinstance(error, Mapping) and error.get("message"):
        parts.insert(0, str(error["message"]))
    return "; ".join(parts)


def parse_problem(response: httpx.Response) -> ApiProblem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error = body.get("error")
    retry_after = retry_after_header(response)  # a 503 may name its wait too
    code: str | None = None
    if response.status_code == 429:
        reset = error.get("rate_reset") if isinstance(error, dict) else None
        code = (
            str(error.get("rate_limit_type") or "rate_limit") if isinstance(error, dict) else None
        )
        retry_after = (
            _float(reset) or rate_limit_header(response).get("reset") or retry_after or 1.0
        )
    return ApiProblem(
        status=response.status_code,
        code=code,
        message=describe_errors(body) or response.reason_phrase,
        retry_after=retry_after,
    )


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


LISTED = OffsetPaging(
    items=("data",), offset="_skip", limit="_limit", size=PAGE_LIMIT, more=("has_more",)
)
"""Close's lists: ``{data, has_more}``, paged with ``_skip``/``_limit``."""
FOUND = TokenPaging(items=("data",), token=("cursor",), send_as="cursor", place="json")
"""Close's advanced search: the body's ``cursor`` goes back in the next request's body."""


EVENTS = TokenPaging(items=("data",), token=("cursor_next",), send_as="_cursor")
"""The event log: newest first, ``cursor_next`` goes back as ``_cursor`` (no ``_skip``)."""


class CloseClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        spec: ProviderSpec,
        budget: RateBudget,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.api = ApiClient(http, spec, budget, parse_problem, retry)

    async def me(self) -> dict[str, Any]:
        body: dict[str, Any] = await self.api.json("GET", "/me/")
        return body

    async def _pages(self, path: str) -> list[dict[str, Any]]:
        """Every object of a ``{data, has_more}`` list."""
        return await collect(self.api.page, PageRequest("GET", path), LISTED)

    async def users(self) -> list[dict[str, Any]]:
        return await self._pages("/user/")

    async def contact_fields(self) -> list[dict[str, Any]]:
        return await self._pages("/custom_field/contact/")

    async def create_contact_field(self, definition: Mapping[str, Any]) -> dict[str, Any]:
        """Not retried in-call: a lost answer must not leave two fields of one name."""
        response = await self.api.request(
            "POST", "/custom_field/contact/", json=dict(definition), idempotent=False
        )
        body: dict[str, Any] = response.json()
        return body

    async def contacts_by_custom_value(
        self, field_id: str, values: Iterable[str], fields: Iterable[str]
    ) -> list[dict[str, Any]]:
        """One ``POST /data/search/`` (plus pages) for every contact whose custom field holds
        one of ``values``."""
        query = {
            "type": "and",
            "queries": [
                {"type": "object_type", "object_type": "contact"},
                {
                    "type": "field_condition",
                    "field": {"type": "custom_field", "custom_field_id": field_id},
                    "condition": {"type": "term", "values": sorted(set(values))},
                },
            ],
        }
        body: dict[str, Any] = {
            "query": query,
            "_fields": {"contact": list(fields)},
            "_limit": SEARCH_LIMIT,
        }
        return await collect(self.api.page, PageRequest("POST", "/data/search/", json=body), FOUND)

    async def create_lead(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        response = await self.api.request("POST", "/lead/", json=dict(payload), idempotent=False)
        body: dict[str, Any] = response.json()
        return body

    async def get_contact(self, contact_id: str, fields: Iterable[str]) -> dict[str, Any]:
        params = {"_fields": ",".join(fields)}
        body: dict[str, Any] = await self.api.json("GET", f"/contact/{contact_id}/", params=params)
        return body

    async def update_contact(
        self, contact_id: str, payload: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """``PUT`` sets only the keys sent, so a retry after a lost answer does no harm.
        None when Close has no such contact (a user deleted it)."""
        response = await self.api.request(
            "PUT", f"/contact/{contact_id}/", json=dict(payload), accept={404: True}
        )
        if response.status_code == 404:
            return None
        body: dict[str, Any] = response.json()
        return body

    async def contact(self, contact_id: str) -> dict[str, Any] | None:
        """The contact, or None when Close has no such contact (deleted)."""
        response = await self.api.request("GET", f"/contact/{contact_id}/", accept={404: True})
        if response.status_code == 404:
            return None
        body: dict[str, Any] = response.json()
        return body

    async def create_note(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A note activity on a lead (``lead_id``, ``contact_id``, ``note``, ``activity_at``);
        not idempotent: a lost answer is not sent again by the client."""
        response = await self.api.request(
            "POST", "/activity/note/", json=dict(payload), idempotent=False
        )
        body: dict[str, Any] = response.json()
        return body

    async def update_note(self, note_id: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """``PUT`` sets only the keys sent; None when Close has no such note (deleted)."""
        response = await self.api.request(
            "PUT", f"/activity/note/{note_id}/", json=dict(payload), accept={404: True}
        )
        if response.status_code == 404:
            return None
        body: dict[str, Any] = response.json()
        return body

    async def contacts_page(self, skip: int, limit: int) -> tuple[list[dict[str, Any]], bool, str]:
        """One ``_skip``/``_limit`` page of every contact, and Close's ``Date`` at the answer."""
        response = await self.api.request(
            "GET", "/contact/", params={"_skip": skip, "_limit": limit}
        )
        body = response.json()
        return list(body.get("data") or []), bool(body.get("has_more")), _date(response)

    async def contacts_of_lead(self, lead_id: str) -> list[dict[str, Any]]:
        return await collect(
            self.api.page, PageRequest("GET", "/contact/", params={"lead_id": lead_id}), LISTED
        )

    async def events(
        self, params: Mapping[str, str], max_pages: int | None = None
    ) -> tuple[list[dict[str, Any]], str, bool]:
        """The events matching ``params``, newest first, up to ``max_pages`` pages (all when
        None); Close's ``Date`` at the first answer (its clock, for the retention check); and
        whether that was every page."""
        dates: list[str] = []
        following: list[bool] = []

        async def send(request: PageRequest) -> Any:
            response = await self.api.request(request.method, request.url, params=request.params)
            dates.append(_date(response))
            body = response.json()
            following.append(bool(body.get("cursor_next")))
            return body

        query = {**params, "_limit": str(EVENT_LIMIT)}
        found: list[dict[str, Any]] = []
        async for page in pages(send, PageRequest("GET", "/event/", params=query), EVENTS):
            found += page
            if max_pages is not None and len(following) >= max_pages:
                break
        complete = not following or not following[-1]
        return found, dates[0] if dates else "", complete

    async def webhooks(self) -> list[dict[str, Any]]:
        body: dict[str, Any] = await self.api.json("GET", "/webhook/")
        return list(body.get("data") or [])

    async def create_webhook(self, url: str, events: list[dict[str, str]]) -> dict[str, Any]:
        """Not retried in-call: a lost answer must not leave two subscriptions."""
        response = await self.api.request(
            "POST", "/webhook/", json={"url": url, "events": events}, idempotent=False
        )
        body: dict[str, Any] = response.json()
        return body

    async def delete_webhook(self, subscription_id: str) -> None:
        await self.api.request("DELETE", f"/webhook/{subscription_id}/", accept={404: True})


def _date(response: httpx.Response) -> str:
    """The answer's ``Date`` header (an HTTP-date), or "" when it has none."""
    return str(response.headers.get("Date", ""))
