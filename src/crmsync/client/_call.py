"""A request as data, built once for both clients, and how its answer is read.

``Route`` names one route of the API as its OpenAPI document spells it; ``Call`` is one
request to it, with the parser of its successful answer; ``Pager`` is a walk over pages.
The sync and async clients only send a ``Call`` and hand its answer to :func:`result`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from crmsync import __version__
from crmsync.client.errors import error_for

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Parse = Callable[[httpx.Response], T]
ParamValue = str | int | bool
USER_AGENT = f"crmsync-client/{__version__}"


class Credential(Enum):
    """What a call authenticates with."""

    HOST_KEY = "host API key"  # every host route: Authorization: Bearer <key>
    TOKEN = "the call's own token"  # /metrics: the metrics token, when one is set
    NONE = "nothing"  # liveness and readiness


@dataclass(frozen=True)
class Route:
    """One route of the API: its method and its path template, as in the OpenAPI document."""

    method: str
    path: str

    def call(
        self,
        parse: Parse[T],
        *,
        path: Mapping[str, str | int] | None = None,
        params: Mapping[str, ParamValue | None] | None = None,
        body: Any = None,
        credential: Credential = Credential.HOST_KEY,
        token: str | None = None,
    ) -> Call[T]:
        """A request to this route; ``None`` query parameters are left out, as is a ``None``
        body (no route takes a JSON ``null``)."""
        url = self.path.format_map({k: _segment(v) for k, v in (path or {}).items()})
        query = tuple((k, v) for k, v in (params or {}).items() if v is not None)
        return Call(self, url, parse, query, body, credential, token)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request, ready to send, and how to read its successful answer."""

    route: Route
    url: str
    parse: Parse[T] = field(repr=False)
    params: tuple[tuple[str, ParamValue], ...] = ()
    body: Any = None
    credential: Credential = Credential.HOST_KEY
    token: str | None = field(default=None, repr=False)

    def build(self, http: httpx.Client | httpx.AsyncClient, api_key: str) -> httpx.Request:
        """The ``httpx.Request`` for ``http``, which resolves the URL against its base URL."""
        return http.build_request(
            self.route.method,
            self.url,
            params=self.params,
            json=self.body,
            headers=self._headers(api_key),
        )

    def _headers(self, api_key: str) -> dict[str, str]:
        secret = {
            Credential.HOST_KEY: api_key,
            Credential.TOKEN: self.token,
            Credential.NONE: None,
        }[self.credential]
        return {"Authorization": f"Bearer {secret}"} if secret else {}


@dataclass(frozen=True)
class Pager(Generic[T]):
    """A walk over pages: the first page's call, and from each page the next one's (or
    ``None`` after the last)."""

    first: Call[list[T]]
    follow: Callable[[list[T]], Call[list[T]] | None]


def result(call: Call[T], response: httpx.Response) -> T:
    """The call's parsed answer, or the :class:`~crmsync.client.errors.CrmsyncError` for it."""
    if response.is_success:
        return call.parse(response)
    raise error_for(response.status_code, _detail(response), response.headers.get("retry-after"))


def _detail(response: httpx.Response) -> object:
    """The API's ``{"detail": ...}``; for any other body (a proxy's page), its text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    return body.get("detail", body) if isinstance(body, dict) else body


def _segment(value: str | int) -> str:
    """A path parameter as one path segment, its reserved characters escaped; ``.`` and
    ``..``, which a URL would resolve away, spelt with ``%2E``. A ``/`` is refused: servers
    decode ``%2F`` before routing, so no id with one can be named in a path."""
    text = str(value)
    if "/" in text:
        raise ValueError(f"a path parameter cannot contain '/': {text!r}")
    if text and not text.strip("."):
        return "%2E" * len(text)
    return quote(text, safe="")


def model(kind: type[M]) -> Parse[M]:
    """Reads a JSON answer as one ``kind``."""

    def parse(response: httpx.Response) -> M:
        return kind.model_validate_json(response.content)

    return parse


def models(kind: type[M]) -> Parse[list[M]]:
    """Reads a JSON answer as a list of ``kind``."""
    adapter = TypeAdapter(list[kind])  # type: ignore[valid-type]

    def parse(response: httpx.Response) -> list[M]:
        return adapter.validate_json(response.content)

    return parse


def text(response: httpx.Response) -> str:
    """Reads a plain-text answer."""
    return response.text
