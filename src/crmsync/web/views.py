"""Rendering: the Jinja environment, its filters, and the response every page goes out with."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from crmsync.branding import branded
from crmsync.domain.enums import ConnectionStatus
from crmsync.engine.runtime import Runtime
from crmsync.services.connections import active_connection
from crmsync.web.auth import CSRF_FIELD, WebUser, csrf_token, pop_flashes

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_URL = re.compile(r"https?://[^\s<>\"')]+")


def as_utc(moment: datetime | None) -> datetime | None:
    """Database datetimes may come back naive (SQLite): they are UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime | None) -> str:
    value = as_utc(moment)
    return value.isoformat().replace("+00:00", "Z") if value else ""


def date(moment: datetime | None) -> str:
    value = as_utc(moment)
    return f"{value.day} {value:%b %Y}" if value else "—"


def date_time(moment: datetime | None) -> str:
    value = as_utc(moment)
    return f"{value.day} {value:%b %Y, %H:%M} UTC" if value else "—"


def duration(seconds: float | None) -> str:
    """A rough, human estimate: "about 3 minutes"."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(seconds / 3600, 1)
    return f"about {hours:g} hours"


def linkify(text: str | None) -> Markup:
    """Escape text, turning http(s) URLs into links that open in a new tab."""
    if not text:
        return Markup("")
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:")
        out.append(escape(text[last : match.start()]))
        out.append(
            Markup('<a href="{0}" target="_blank" rel="noopener noreferrer">{0}</a>').format(url)
        )
        last = match.start() + len(url)
    out.append(escape(text[last:]))
    return Markup("").join(out)


def pretty_json(value: Any) -> str:
    """Indented JSON with every character as itself (``ë``, not ``\\u00eb``)."""
    if not value:
        return "{}"
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def sentence(text: str | None) -> str:
    """``the person is gone`` → ``The person is gone.``: capitalised, ending with a stop."""
    words = " ".join(str(text or "").split())
    if not words:
        return ""
    words = words[0].upper() + words[1:]
    return words if words[-1] in ".!?" else words + "."


def show_value(value: Any) -> str:
    """A value written to the CRM, as text: lists joined, nothing shown as a dash."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(show_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return str(value)


def every(minutes: int) -> str:
    """``15`` → "Every 15 minutes", ``60`` → "Every hour", ``1440`` → "Every 24 hours"."""
    if minutes % 60:
        return f"Every {minutes} minutes"
    hours = minutes // 60
    return "Every hour" if hours == 1 else f"Every {hours} hours"


SYNC_INTERVALS = (10, 15, 30, 60, 120, 240, 480, 720, 1440)
"""The intervals the Sync preferences tab offers (minutes; the service takes 10 to 1440)."""


def interval_choices(current: int) -> list[int]:
    """The offered intervals, with the connection's own when it is none of them."""
    return sorted({*SYNC_INTERVALS, current})


def num(count: int) -> str:
    return f"{count:,}"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


_CODE = re.compile(r"[A-Za-z0-9]+(?:[_.:-][A-Za-z0-9]+)*")
"""A reason that is one token (``DUPLICATE_EMAIL``, ``invalid_grant``) is a code, not a reason."""
OP_TEXT = {
    "inserted": "Created {record} {crm_id} in {crm}.",
    "updated": "Updated {record} {crm_id} in {crm}.",
    "unchanged": "Already up to date in {crm}: nothing to send.",
    "pending": "Waiting to be sent.",
    "retrying": "Will be tried again shortly.",
    "waiting_reconnect": "Waiting for {crm} to be reconnected.",
    "superseded": "A newer change of this person took over before this one was sent.",
    "failed": "{crm} refused the write.",
    "skipped": "Not sent to {crm}.",
}


def op_text(op: Any, crm: str, record_label: str) -> str:
    """The operation's reason as a sentence, or a plain one for outcomes that need none (or
    whose reason is only a code: the code is shown beside it)."""
    reason = str(op.reason or "").strip()
    if reason and reason != op.code and not _CODE.fullmatch(reason):
        return sentence(reason)
    template = OP_TEXT.get(op.status, "")
    return template.format(record=record_label.lower(), crm_id=op.crm_id or "", crm=crm)


@cache
def _static_version(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    return f"/static/{name}?v={_static_version(name)}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        iso=iso,
        date=date,
        datetime=date_time,
        duration=duration,
        linkify=linkify,
        pretty_json=pretty_json,
        plural=plural,
        num=num,
        every=every,
        sentence=sentence,
        show_value=show_value,
        branded=branded,
    )
    env.globals.update(
        interval_choices=interval_choices,
        static_url=static_url,
        csrf_field=CSRF_FIELD,
        op_text=op_text,
    )
    return env


ENV = _environment()


NOTICE_STATES = (ConnectionStatus.NEEDS_RECONNECT, ConnectionStatus.SETUP_REQUIRED)


def connection_notice(rt: Runtime, org_id: str) -> dict[str, Any] | None:
    """What the page-wide banner says when syncing is paused until an admin acts: the
    connection needs reconnecting, or the CRM needs setting up."""
    with rt.db.session() as session:
        conn = active_connection(session, org_id)
        if conn is None or conn.status not in NOTICE_STATES:
            return None
        name = rt.spec(conn.provider).display_name
        return {
            "kind": "setup" if conn.status == ConnectionStatus.SETUP_REQUIRED else "reconnect",
            "provider": conn.provider,
            "name": name,
            "reason": branded(conn.status_reason or "", rt.settings.app_name),
            "missing": list(conn.settings.get("setup", {}).get("missing", [])),
        }


def render(
    request: Request,
    rt: Runtime,
    template: str,
    context: dict[str, Any] | None = None,
    user: WebUser | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    page = {
        "request": request,
        "app_name": rt.settings.app_name,
        "user": user,
        "csrf": csrf_token(request),
        "flashes": pop_flashes(request),
        "notice": connection_notice(rt, user.org_id) if user else None,
        "path": request.url.path,
        **(context or {}),
    }
    body = ENV.get_template(template).render(page)
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
