"""The page an emulator shows for one record, where the CRM's own UI would show it.

Served at the path of the provider's real record URL (``ProviderSpec.record_url``), so the
admin UI's "Open in <CRM>" link lands on something in a demo: the record's fields as stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse

from crmsync.emulation.consent import page_layout

_TABLE_STYLE = (
    "<style>table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;"
    "border-bottom:1px solid #eaf0f6;vertical-align:top}th{font-weight:600;width:40%}</style>"
)


def record_page(
    provider_name: str,
    brand_color: str,
    title: str,
    fields: Iterable[tuple[str, object]],
    record_id: str,
) -> HTMLResponse:
    """The record's fields, in order; empty values are left out."""
    rows = "".join(
        f'<tr><th scope="row">{escape(name)}</th><td>{escape(_text(value))}</td></tr>'
        for name, value in fields
        if value not in (None, "", [], {})
    )
    body = (
        f"<header>{escape(provider_name)}</header>\n<main>\n{_TABLE_STYLE}"
        f"<h1>{escape(title)}</h1>\n<p>Record <code>{escape(record_id)}</code></p>\n"
        f"<table>{rows}</table>\n</main>"
    )
    return HTMLResponse(page_layout(f"{title} · {provider_name}", brand_color, body))


def missing_record_page(provider_name: str, brand_color: str, record_id: str) -> HTMLResponse:
    body = (
        f"<header>{escape(provider_name)}</header>\n<main>\n<h1>Record not found</h1>\n"
        f'<p role="alert">No record <code>{escape(record_id)}</code> exists here.</p>\n</main>'
    )
    return HTMLResponse(page_layout("Record not found", brand_color, body), status_code=404)


def _text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)


def emulated_record_url(template: str, base_url: str) -> str:
    """A provider's record URL template moved to an emulator's host (the emulator serves the
    same path). A template on a per-connection host (``{instance_url}/...``) is the
    emulator's already; no template stays none."""
    parts = urlsplit(template)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return template
    return base_url.rstrip("/") + template[len(f"{parts.scheme}://{parts.netloc}") :]
