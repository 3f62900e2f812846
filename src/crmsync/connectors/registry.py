"""Finds the providers: every package under ``crmsync.providers`` that exports ``PROVIDER``.

Adding a CRM is adding a folder there; no engine file changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import crmsync.providers
from crmsync.connectors.base import Connector
from crmsync.emulation.harness import EmulatorHarness
from crmsync.errors import InputError


@dataclass(frozen=True)
class Provider:
    """What a provider folder offers: its connector and its emulator."""

    connector: type[Connector]
    emulator: Callable[..., EmulatorHarness]
    """``emulator(served=False)`` → a fresh emulator of the CRM's API and its harness."""

    @property
    def name(self) -> str:
        return self.connector.spec.name


@lru_cache(maxsize=1)
def providers() -> dict[str, Provider]:
    from crmsync.settings import get_settings

    enabled = set(get_settings().enabled_providers)
    found: dict[str, Provider] = {}
    for module in pkgutil.iter_modules(crmsync.providers.__path__):
        if not module.ispkg or (enabled and module.name not in enabled):
            continue
        package = importlib.import_module(f"crmsync.providers.{module.name}")
        provider = getattr(package, "PROVIDER", None)
        if isinstance(provider, Provider):
            found[provider.name] = provider
    return dict(sorted(found.items()))


def get_provider(name: str) -> Provider:
    try:
        return providers()[name]
    except KeyError:
        known = ", ".join(providers()) or "none"
        raise InputError(f"unknown provider {name!r}; known providers: {known}") from None
