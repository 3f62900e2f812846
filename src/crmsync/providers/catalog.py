"""Every CRM crmsync ships, listed by hand: a type checker follows each import, and nothing
is found by scanning packages."""

from __future__ import annotations

from crmsync.connectors.registry import Provider
from crmsync.providers import close, highlevel, hubspot, salesforce

BUILTIN: tuple[Provider, ...] = (
    close.PROVIDER,
    highlevel.PROVIDER,
    hubspot.PROVIDER,
    salesforce.PROVIDER,
)
