"""Checks HTTP traffic against HighLevel's official OpenAPI files (openapi-core).

The files are kept in the repository, in ``spec/`` beside this module (CC0; see its README); a
missing file fails the test that needs it rather than skipping it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_DIR = Path(__file__).resolve().parent / "spec" / "apps"
SPEC_FOR_PREFIX = {
    "/contacts": "contacts.json",
    "/locations": "locations.json",
    "/users": "users.json",
    "/oauth/token": "oauth.json",
}


def spec_dir() -> Path:
    if not (SPEC_DIR / "contacts.json").is_file():
        pytest.fail(f"HighLevel's OpenAPI files are missing: expected them in {SPEC_DIR}")
    return SPEC_DIR


@cache
def _openapi(name: str) -> OpenAPI:
    # The official files declare http security schemes with ``name``/``in``, which strict
    # spec validation rejects; the paths and schemas themselves are what we check against.
    return OpenAPI.from_file_path(str(spec_dir() / name), config=Config(spec_validator_cls=None))


def openapi_for(path: str) -> OpenAPI | None:
    for prefix, name in SPEC_FOR_PREFIX.items():
        if path.startswith(prefix):
            return _openapi(name)
    return None


class OpenAPIRequest:
    """An ``httpx.Request`` as openapi-core reads requests."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(request.url.params.multi_items()),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return f"{self.request.url.scheme}://{self.request.url.netloc.decode()}"

    @property
    def path(self) -> str:
        return self.request.url.path

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self.request.content or None

    @property
    def content_type(self) -> str:
        return self.request.headers.get("content-type", "").lower()


class OpenAPIResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def content_type(self) -> str:
        return self.response.headers.get("content-type", "").lower()

    @property
    def headers(self) -> Headers:
        return Headers(list(self.response.headers.items()))

    @property
    def data(self) -> bytes | None:
        return self.response.content or None


@dataclass(frozen=True)
class Exchange:
    request: httpx.Request
    response: httpx.Response

    @property
    def label(self) -> str:
        return f"{self.request.method} {self.request.url.path} -> {self.response.status_code}"


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests on and keeps every request with its (fully read) response."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        copy = httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )
        self.exchanges.append(Exchange(request, copy))
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )


def problems(exchange: Exchange, *, check_response: bool = True) -> list[str]:
    """What the spec says is wrong with this request (and its response)."""
    openapi = openapi_for(exchange.request.url.path)
    if openapi is None:
        return [f"{exchange.label}: no spec covers this path"]
    request = OpenAPIRequest(exchange.request)
    found = [f"{exchange.label}: request: {_why(e)}" for e in openapi.iter_request_errors(request)]
    if check_response:
        response = OpenAPIResponse(exchange.response)
        found += [
            f"{exchange.label}: response: {_why(e)}"
            for e in openapi.iter_response_errors(request, response)
        ]
    return found


def _why(error: Exception) -> str:
    """The error and the schema errors behind it (openapi-core keeps them as the cause)."""
    cause = error.__cause__
    details = getattr(cause, "schema_errors", None) or ([cause] if cause else [])
    return f"{error!r} " + "; ".join(str(getattr(d, "message", d)) for d in details)
