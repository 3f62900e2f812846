"""The emulator of each CRM, by provider name: for ``crmsync emulate``, the demo, the tests and
the benchmarks. Nothing a worker or ``crmsync serve`` runs imports this module."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from crmsync.emulation.harness import EmulatorHarness
from crmsync.errors import InputError
from crmsync.providers.close.emulator.harness import CloseHarness
from crmsync.providers.highlevel.emulator.harness import HighLevelHarness
from crmsync.providers.hubspot.emulator.harness import HubSpotHarness
from crmsync.providers.salesforce.emulator.harness import SalesforceHarness

EmulatorFactory = Callable[..., EmulatorHarness]
"""``factory(served=False, rate_limited=True)`` → a fresh emulator of the CRM and its harness."""

EMULATORS: MappingProxyType[str, EmulatorFactory] = MappingProxyType(
    {
        "close": CloseHarness,
        "highlevel": HighLevelHarness,
        "hubspot": HubSpotHarness,
        "salesforce": SalesforceHarness,
    }
)


def emulator(provider: str) -> EmulatorFactory:
    try:
        return EMULATORS[provider]
    except KeyError:
        known = ", ".join(EMULATORS)
        raise InputError(f"no emulator of {provider!r}; emulated CRMs: {known}") from None


def name_requesting_app(harness: EmulatorHarness, app_name: str) -> None:
    """An emulator's consent page names the app asking for access, as a real CRM shows the
    OAuth app's registered name: that is the configured app name."""
    harness.app.state.emulator.config.app_name = app_name
