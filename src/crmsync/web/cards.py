"""What the Integrations page shows: one card per provider the registry finds.

Nothing here names a provider. What differs between CRMs comes from the provider's spec and
its connection: the display name, the record kind, the account label (e.g. HighLevel's
location), setup state, and optional ``connect_steps`` (e.g. Salesforce's "install the managed
package, then authorise"), shown as a step-by-step dialog before the popup opens.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from crmsync.branding import branded
from crmsync.connectors.spec import OWN_APP_OPTIONS, ConnectStep, ProviderSpec
from crmsync.domain.records import Capability
from crmsync.domain.views import ConnectionState
from crmsync.engine.runtime import Runtime
from crmsync.services.connections import active_connection
from crmsync.services.operations import connection_status
from crmsync.web.views import duration

TILE_COLOURS = 8
"""Initials tiles use one of ``.tile-0`` … ``.tile-7`` (white text, contrast ≥ 4.5:1)."""


@dataclass(frozen=True)
class ProviderCard:
    name: str
    display_name: str
    record_label: str
    initials: str
    tile: int
    has_logo: bool
    steps: tuple[ConnectStep, ...] = ()
    connection: ConnectionState | None = None
    blocked_by: str | None = None
    """The display name of the org's other CRM, when another one is connected."""
    own_app: bool = False
    """Whether the org may connect through an OAuth app of its own (``OWN_APP_OPTIONS``)."""
    login_host: bool = False
    """Whether the connect form asks for a login host (Salesforce sandboxes, My Domain)."""
    callback_url: str = ""
    """The callback URL an org's own OAuth app must register."""
    conversations: bool = False
    """Whether the connector exports conversations (``Capability.CONVERSATIONS``)."""
    extra: dict[str, Any] = field(default_factory=dict)


def initials(display_name: str) -> str:
    """``HubSpot`` → HS, ``HighLevel`` → HL, ``Close`` → Cl, ``Zoho CRM`` → ZC."""
    words = display_name.split()
    if len(words) > 1:
        return (words[0][0] + words[1][0]).upper()
    capitals = [c for c in display_name if c.isupper()]
    return "".join(capitals[:2]) if len(capitals) > 1 else display_name[:2].title()


def connect_steps(spec: ProviderSpec) -> tuple[ConnectStep, ...]:
    """The spec's ``connect_steps`` (none: the popup opens straight away)."""
    return spec.connect_steps


def _branded(step: ConnectStep, app_name: str) -> ConnectStep:
    """A provider's step names the configured app where its text says the product's name."""
    return dataclasses.replace(
        step, title=branded(step.title, app_name), text=branded(step.text, app_name)
    )


def provider_logo(rt: Runtime, name: str) -> Path | None:
    """A provider folder may ship ``logo.svg``; otherwise the card shows initials."""
    if name not in rt.providers:
        return None
    module = sys.modules.get(rt.provider(name).connector.__module__)
    if module is None or module.__file__ is None:
        return None
    path = Path(module.__file__).parent / "logo.svg"
    return path if path.is_file() else None


def provider_cards(rt: Runtime, session: Session, org_id: str) -> list[ProviderCard]:
    conn = active_connection(session, org_id)
    status = connection_status(rt, session, conn) if conn is not None else None
    cards = []
    for index, name in enumerate(rt.providers.names()):
        spec = rt.spec(name)
        options = set(rt.provider(name).connector.connection_options)
        mine = status is not None and status.provider == name
        cards.append(
            ProviderCard(
                name=name,
                display_name=spec.display_name,
                record_label=spec.record_label,
                initials=initials(spec.display_name),
                tile=index % TILE_COLOURS,
                has_logo=provider_logo(rt, name) is not None,
                steps=tuple(_branded(step, rt.settings.app_name) for step in connect_steps(spec)),
                connection=status if mine else None,
                blocked_by=status.provider_name if status is not None and not mine else None,
                own_app=set(OWN_APP_OPTIONS) <= options,
                login_host="login_host" in options,
                callback_url=rt.redirect_uri(name),
                conversations=Capability.CONVERSATIONS in rt.provider(name).connector.capabilities,
            )
        )
    # the connected CRM first, the others in registry order
    return sorted(cards, key=lambda c: c.connection is None)


def live_status(status: ConnectionState) -> dict[str, Any]:
    """What the page polls: counts, backfill progress and the state that needs a redraw."""
    backfill = status.backfill
    return {
        "status": status.status,
        "counts": dataclasses.asdict(status.counts),
        "backfill": {
            "total": backfill.total,
            "done": backfill.done,
            "remaining": backfill.remaining,
            "estimate": duration(backfill.estimated_seconds) if backfill.remaining else "",
        },
        "redraw": f"{status.status}|{status.id}|{','.join(status.setup.missing)}",
    }
