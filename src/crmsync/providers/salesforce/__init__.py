"""Salesforce: people as Leads, upserted by the Person ID external ID; Bulk API for backfills."""

from crmsync.connectors.registry import Provider
from crmsync.providers.salesforce.connector import SalesforceConnector

PROVIDER = Provider(connector=SalesforceConnector)

__all__ = ["PROVIDER", "SalesforceConnector"]
