"""Drives a CRM's HTML consent page the way a browser would: read the form, submit it."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx


class FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("hidden", "text", "email", "password"):
                self.fields[a["name"]] = a.get("value", "")
            elif kind == "radio":
                self.options.setdefault(a["name"], []).append(a.get("value", ""))
                if "checked" in a:
                    self.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            self.options.setdefault(self._select, []).append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


async def consent(
    transport: httpx.AsyncBaseTransport,
    authorize_url: str,
    choices: dict[str, str] | None = None,
    decision: str = "allow",
) -> str:
    """Open the consent page, choose, submit; returns where the CRM redirects the browser."""
    async with httpx.AsyncClient(transport=transport) as client:
        page = await client.get(authorize_url)
        assert page.status_code == 200, page.text
        form = FormParser()
        form.feed(page.text)
        data = dict(form.fields)
        for name, values in form.options.items():
            data.setdefault(name, values[0])
        data.update(choices or {})
        data["decision"] = decision
        target = urljoin(str(page.url), form.action or str(page.url))
        answer = await client.post(target, data=data)
        assert answer.status_code in (302, 303), answer.text
        return answer.headers["location"]
