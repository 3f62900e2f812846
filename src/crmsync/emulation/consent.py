"""The HTML consent page an emulator shows during OAuth, and the redirect that follows it.

A real ``<form method="post">`` (hidden fields carry the authorize query, radio buttons choose the
account, "Allow"/"Deny" submit ``decision``), so a demo user clicks through it and a test can
parse and post it like a browser would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ALLOW = "allow"
DENY = "deny"

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f5f8fa;color:#33475b;margin:0}
header{background:var(--brand);color:#fff;padding:14px 24px;font-weight:600}
main{max-width:520px;margin:32px auto;background:#fff;border-radius:8px;padding:24px 32px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
fieldset{border:1px solid #cbd6e2;border-radius:6px;margin:16px 0;padding:8px 16px}
li{margin:4px 0}code{background:#eaf0f6;padding:1px 4px;border-radius:3px}
.actions{display:flex;gap:12px;margin-top:20px}
button{padding:10px 20px;border-radius:4px;border:1px solid var(--brand);font-size:15px}
button[value=allow]{background:var(--brand);color:#fff}button[value=deny]{background:#fff}
"""


@dataclass(frozen=True)
class ConsentChoice:
    """One option in the account/user chooser."""

    value: str
    label: str


@dataclass(frozen=True)
class ConsentPage:
    """What a provider puts on its consent page."""

    provider_name: str
    app_name: str
    action: str
    hidden: Mapping[str, str]
    scopes: Sequence[str] = ()
    chooser_name: str | None = None
    chooser_legend: str = "Choose an account"
    choices: Sequence[ConsentChoice] = ()
    brand_color: str = "#33475b"
    notes: Sequence[str] = field(default_factory=tuple)


def page_layout(title: str, brand_color: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>:root{{--brand:{escape(brand_color)}}}{_STYLE}</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def render_consent_page(page: ConsentPage) -> str:
    """The consent form; posting it with ``decision=allow|deny`` completes the authorization."""
    hidden = "\n".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in page.hidden.items()
    )
    chooser = ""
    if page.chooser_name and page.choices:
        options = "\n".join(
            f'<div><input type="radio" id="choice-{index}" name="{escape(page.chooser_name)}" '
            f'value="{escape(choice.value)}"{" checked" if index == 0 else ""} required>'
            f'<label for="choice-{index}">{escape(choice.label)}</label></div>'
            for index, choice in enumerate(page.choices)
        )
        legend = f"<legend>{escape(page.chooser_legend)}</legend>"
        chooser = f"<fieldset>\n{legend}\n{options}\n</fieldset>"
    scopes = ""
    if page.scopes:
        items = "".join(f"<li><code>{escape(scope)}</code></li>" for scope in page.scopes)
        scopes = f"<p>It will be allowed to:</p>\n<ul>{items}</ul>"
    notes = "".join(f"<p>{escape(note)}</p>" for note in page.notes)
    title = f"Connect {page.app_name} to {page.provider_name}"
    body = (
        f"<header>{escape(page.provider_name)}</header>\n<main>\n<h1>{escape(title)}</h1>\n"
        f"<p><strong>{escape(page.app_name)}</strong> is requesting access to your "
        f"{escape(page.provider_name)} account.</p>\n{scopes}\n{notes}\n"
        f'<form method="post" action="{escape(page.action)}">\n{hidden}\n{chooser}\n'
        '<div class="actions">\n'
        f'<button type="submit" name="decision" value="{ALLOW}">Allow</button>\n'
        f'<button type="submit" name="decision" value="{DENY}">Deny</button>\n'
        "</div>\n</form>\n</main>"
    )
    return page_layout(title, page.brand_color, body)


def render_error_page(provider_name: str, title: str, message: str, brand_color: str) -> str:
    """A plain HTML error page, as providers show for a bad authorize request."""
    body = (
        f"<header>{escape(provider_name)}</header>\n<main>\n<h1>{escape(title)}</h1>\n"
        f'<p role="alert">{escape(message)}</p>\n</main>'
    )
    return page_layout(title, brand_color, body)


def consent_redirect(
    redirect_uri: str,
    *,
    state: str | None,
    code: str | None = None,
    error: str | None = None,
) -> str:
    """``redirect_uri`` with ``code`` (approved) or ``error`` (denied) and ``state`` appended."""
    if (code is None) == (error is None):
        raise ValueError("exactly one of code and error is required")
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.append(("code", code) if code is not None else ("error", error or ""))
    if state is not None:
        query.append(("state", state))
    return urlunsplit(parts._replace(query=urlencode(query)))
