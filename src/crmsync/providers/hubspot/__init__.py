"""HubSpot: people as contacts, upserted in batches by the Person ID unique property."""

from crmsync.connectors.registry import Provider
from crmsync.providers.hubspot.connector import HubSpotConnector
from crmsync.providers.hubspot.emulator.harness import HubSpotHarness

PROVIDER = Provider(connector=HubSpotConnector, emulator=HubSpotHarness)

__all__ = ["PROVIDER", "HubSpotConnector", "HubSpotHarness"]
