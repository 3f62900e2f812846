"""A HubSpot emulator with one portal per organisation, served in its own process.

Started by ``bench._cluster.PortalCluster`` (``python bench/_portals.py --portals N --port P``).
Each portal is a full emulator (its own store, OAuth grants and 110 requests / 10 s window)
with its own Hub ID; one ASGI front routes each request to its portal by the bearer token,
auth code or refresh token it carries, as HubSpot does by account. The consent page is opened
with the ``X-Emulator-Portal`` header: the admin who clicks "allow" is signed in to their own
portal. ``/_cluster/`` answers totals, records and look-ups across portals for the scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crmsync.providers.hubspot.emulator.harness import HubSpotHarness

PORTAL_HEADER = "X-Emulator-Portal"
HUB_ID_BASE = 40_000_000
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]


def owner_email(index: int) -> str:
    return f"owner@org{index:04d}.test"


class PortalFront:
    """An ASGI app in front of N HubSpot portals."""

    def __init__(self, portals: int, rate_limited: bool) -> None:
        self.portals: list[HubSpotHarness] = []
        self.owners: list[str] = []
        for index in range(portals):
            portal = HubSpotHarness(served=True, rate_limited=rate_limited)
            portal.config.portal_id = HUB_ID_BASE + index  # its Hub ID: one account each
            portal.config.hub_domain = f"org{index:04d}.hubspot.test"
            self.owners.append(portal.add_user(owner_email(index), "Olive", f"Owner {index}"))
            self.portals.append(portal)
        self.secrets: dict[str, int] = {}  # auth code, access or refresh token → portal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if path.startswith("/_cluster/"):
            await self.control(scope, receive, send)
            return
        if PORTAL_HEADER.lower() in headers:
            index = int(headers[PORTAL_HEADER.lower()])
            await self.portals[index].app(scope, receive, self._sniff(index, send))
            return
        if path == "/oauth/v1/token":  # the code or refresh token names the portal
            body = await _body(receive)
            form = parse_qs(body.decode())
            index = self.secrets.get((form.get("code") or form.get("refresh_token") or [""])[0])
            if index is None:
                await _json(send, 400, {"status": "BAD_AUTH_CODE", "message": "unknown code"})
                return
            replay = [{"type": "http.request", "body": body, "more_body": False}]

            async def again() -> Message:
                return replay.pop() if replay else await receive()

            await self.portals[index].app(scope, again, self._sniff(index, send))
            return
        if path.startswith(("/oauth/v1/access-tokens/", "/oauth/v1/refresh-tokens/")):
            secret = path.rsplit("/", 1)[1]
        else:
            secret = headers.get("authorization", "").partition(" ")[2].strip()
        found = self.secrets.get(secret)
        if found is None:
            await _json(send, 401, {"status": "error", "category": "INVALID_AUTHENTICATION"})
            return
        await self.portals[found].app(scope, receive, send)

    def _sniff(self, index: int, send: Send) -> Send:
        """Learn which portal issued a code (redirect) or tokens (token response)."""
        chunks: list[bytes] = []

        async def sniffing(message: Message) -> None:
            if message["type"] == "http.response.start":
                for key, value in message.get("headers", []):
                    if key.lower() == b"location":
                        for code in parse_qs(urlsplit(value.decode()).query).get("code", []):
                            self.secrets[code] = index
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and b"access_token" in chunks[0][:4096]:
                    data = json.loads(b"".join(chunks))
                    for key in ("access_token", "refresh_token"):
                        if isinstance(data.get(key), str):
                            self.secrets[data[key]] = index
            await send(message)

        return sniffing

    async def control(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        name = scope["path"].removeprefix("/_cluster/")
        if name == "count":
            count = sum(len(portal.emulator.store.contacts) for portal in self.portals)
            await _json(send, 200, {"contacts": count})
        elif name == "summary":
            await _json(send, 200, await asyncio.to_thread(self.summary, query.get("title")))
        elif name == "records":
            await _json(send, 200, await asyncio.to_thread(self.records))
        elif name == "lookup":
            pairs = json.loads(await _body(receive))
            await _json(send, 200, await asyncio.to_thread(self.lookup, pairs))
        else:
            await _json(send, 404, {"error": name})

    def summary(self, title: str | None) -> dict[str, Any]:
        """Totals across portals; ``last_write`` is the latest updatedAt (of records with
        ``title`` when given), as epoch seconds."""
        contacts = with_title = calls = writes = 0
        last = ""
        for portal in self.portals:
            store, field = portal.emulator.store, portal.crm_field["title"]
            with store.lock:
                contacts += len(store.contacts)
                for contact in store.contacts.values():
                    if title is None or contact.properties.get(field) == title:
                        with_title += 1
                        last = max(last, contact.updated_at)
            calls += int(portal.emulator.counters.snapshot()["total"])  # type: ignore[call-overload]
            writes += portal.write_calls()
        return {
            "contacts": contacts,
            "with_title": with_title,
            "api_calls": calls,
            "write_calls": writes,
            "last_write": _epoch(last) if last else None,
        }

    def records(self) -> dict[str, Any]:
        """Per portal: [person_id, title, owner_id] of every record; each portal's owner."""
        rows = [
            [[r.person_id, r.values.get("title"), r.owner_id] for r in portal.records()]
            for portal in self.portals
        ]
        return {"owners": self.owners, "portals": rows}

    def lookup(self, pairs: list[list[Any]]) -> list[list[Any]]:
        """For each [portal, person_id]: [copies found, createdAt epoch of the first]."""
        answer: list[list[Any]] = []
        for index, person_id in pairs:
            portal = self.portals[int(index)]
            found = portal.emulator.find_contacts(**{portal.crm_field["person_id"]: person_id})
            answer.append([len(found), _epoch(found[0].created_at) if found else None])
        return answer


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


async def _body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _json(send: Send, status: int, body: Any) -> None:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


def serve(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="HubSpot emulator, one portal per org")
    parser.add_argument("--portals", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--no-rate-limit", action="store_true")
    args = parser.parse_args(argv)
    front = PortalFront(args.portals, rate_limited=not args.no_rate_limit)
    base = f"http://127.0.0.1:{args.port}"
    print(json.dumps({"base_url": base, "settings": front.portals[0].settings_for(base)}))
    sys.stdout.flush()
    uvicorn.run(front, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    serve()
