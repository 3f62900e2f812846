"""Salesforce: people as Leads, upserted by the Person ID external ID; Bulk API for backfills."""

from crmsync.connectors.registry import Provider
from crmsync.providers.salesforce.connector import SalesforceConnector
from crmsync.providers.salesforce.emulator.harness import SalesforceHarness

PROVIDER = Provider(connector=SalesforceConnector, emulator=SalesforceHarness)

__all__ = ["PROVIDER", "SalesforceConnector", "SalesforceHarness"]
