"""HubSpot: people as contacts, upserted in batches by the Person ID unique property."""

from crmsync.connectors.registry import Provider
from crmsync.providers.hubspot.connector import HubSpotConnector

PROVIDER = Provider(connector=HubSpotConnector)

__all__ = ["PROVIDER", "HubSpotConnector"]
