"""Paginators: how a CRM's list and search calls page, declared with the provider's facts.

A client states where a page's items are, what names the next page (a token, a URL, an
offset, a page number) and when a page was the last; :func:`collect` and :func:`pages` walk
the pages. One place guards against a CRM that hands back a page it already gave (the same
token or request twice) or makes no progress (an empty page that claims more): the walk stops
instead of looping forever, whichever CRM it is.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from crmsync import jsoncodec

log = logging.getLogger(__name__)

Path = tuple[str, ...]
Body = Mapping[str, Any]


@dataclass(frozen=True)
class PageRequest:
    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    json: dict[str, Any] | None = None

    def fingerprint(self) -> bytes:
        """Two requests for the same page look the same (the repeated-page guard)."""
        return jsoncodec.dumps_bytes([self.method, self.url, self.params, self.json])


Send = Callable[[PageRequest], Awaitable[Any]]
"""Sends one page request and returns its decoded JSON body (the client's pacing, auth and
error table apply)."""


def dig(body: Any, path: Path) -> Any:
    """The value at ``path`` in a JSON body, or None where any step is missing."""
    for key in path:
        if not isinstance(body, Mapping):
            return None
        body = body.get(key)
    return body


class Paging(ABC):
    """One API's paging rule."""

    items: Path

    def page_items(self, body: Body) -> list[dict[str, Any]]:
        found = dig(body, self.items)
        return list(found) if isinstance(found, list) else []

    def first(self, request: PageRequest) -> PageRequest:
        """The first page's request (an offset or page number paginator adds its own)."""
        return request

    @abstractmethod
    def next(self, request: PageRequest, body: Body, seen: int) -> PageRequest | None:
        """The request for the page after ``body`` (``seen`` items so far), or None."""


@dataclass(frozen=True)
class TokenPaging(Paging):
    """The body names the next page by a token, sent back as a parameter or in the JSON body
    (HubSpot ``paging.next.after``, Close search ``cursor``)."""

    items: Path
    token: Path
    send_as: str
    place: Literal["params", "json"] = "params"

    def next(self, request: PageRequest, body: Body, seen: int) -> PageRequest | None:
        token = dig(body, self.token)
        if not token:
            return None
        if self.place == "json":
            return replace(request, json={**(request.json or {}), self.send_as: token})
        return replace(request, params={**request.params, self.send_as: token})


@dataclass(frozen=True)
class NextUrlPaging(Paging):
    """The body names the next page's URL until it says it is done (Salesforce query's
    ``nextRecordsUrl`` and ``done``). ``base`` is prefixed to a relative URL."""

    items: Path
    next_url: Path
    done: Path
    base: str = ""

    def next(self, request: PageRequest, body: Body, seen: int) -> PageRequest | None:
        url = dig(body, self.next_url)
        if dig(body, self.done) is not False or not url:
            return None
        return PageRequest("GET", f"{self.base}{url}")


@dataclass(frozen=True)
class OffsetPaging(Paging):
    """Pages by an offset of items already seen (Close ``_skip``/``_limit`` with
    ``has_more``; HighLevel users ``skip``/``limit`` with a ``count``). The last page is the
    one that says no more, holds fewer than ``size``, or reaches the total."""

    items: Path
    offset: str
    limit: str
    size: int
    more: Path | None = None
    total: Path | None = None

    def first(self, request: PageRequest) -> PageRequest:
        return replace(request, params={**request.params, self.offset: 0, self.limit: self.size})

    def next(self, request: PageRequest, body: Body, seen: int) -> PageRequest | None:
        if _last_page(body, self.page_items(body), seen, self.size, self.more, self.total):
            return None
        return replace(request, params={**request.params, self.offset: seen})


@dataclass(frozen=True)
class PageNumberPaging(Paging):
    """Pages by number in a search's JSON body, from 1 (HighLevel's contact search ``page``
    with ``pageLimit`` and a ``total``)."""

    items: Path
    page: str
    limit: str
    size: int
    total: Path | None = None

    def first(self, request: PageRequest) -> PageRequest:
        return replace(request, json={**(request.json or {}), self.page: 1, self.limit: self.size})

    def next(self, request: PageRequest, body: Body, seen: int) -> PageRequest | None:
        if _last_page(body, self.page_items(body), seen, self.size, None, self.total):
            return None
        number = int((request.json or {}).get(self.page, 1)) + 1
        return replace(request, json={**(request.json or {}), self.page: number})


def _last_page(
    body: Body,
    page: list[dict[str, Any]],
    seen: int,
    size: int,
    more: Path | None,
    total: Path | None,
) -> bool:
    """An empty page always ends the walk (asking on would make no progress). A CRM that says
    whether more follow is believed (it may serve fewer than asked); else a short page, or
    reaching the total it announced, is the last."""
    if not page:
        return True
    if more is not None:
        return not dig(body, more)
    if total is not None and seen >= int(dig(body, total) or 0):
        return True
    return len(page) < size


async def pages(send: Send, request: PageRequest, paging: Paging) -> AsyncIterator[list[Any]]:
    """Each page's items, in order, until the CRM says it was the last page."""
    current: PageRequest | None = paging.first(request)
    asked: set[bytes] = set()
    seen = 0
    while current is not None:
        asked.add(current.fingerprint())
        answer = await send(current)
        body: Body = answer if isinstance(answer, Mapping) else {}
        items = paging.page_items(body)
        seen += len(items)
        yield items
        following = paging.next(current, body, seen)
        if following is not None and following.fingerprint() in asked:
            log.warning("%s %s: the CRM repeated a page; stopped", current.method, current.url)
            return
        current = following


async def collect(send: Send, request: PageRequest, paging: Paging) -> list[Any]:
    """Every item of every page."""
    found: list[Any] = []
    async for page in pages(send, request, paging):
        found.extend(page)
    return found
