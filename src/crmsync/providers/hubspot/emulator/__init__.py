"""An emulator of HubSpot's real REST API (OAuth, CRM v3 contacts, properties, owners).

Connectors pointed at it work unchanged; tests, benchmarks and the demo need no HubSpot account.
"""

from crmsync.providers.hubspot.emulator.app import create_app
from crmsync.providers.hubspot.emulator.config import HubSpotEmulatorConfig
from crmsync.providers.hubspot.emulator.state import HubSpotEmulator

__all__ = ["HubSpotEmulator", "HubSpotEmulatorConfig", "create_app"]
