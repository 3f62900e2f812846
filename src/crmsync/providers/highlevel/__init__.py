"""HighLevel (LeadConnector API v2): people as contacts of the sub-account chosen at connect."""

from crmsync.connectors.registry import Provider
from crmsync.providers.highlevel.connector import HighLevelConnector

PROVIDER = Provider(connector=HighLevelConnector)

__all__ = ["PROVIDER", "HighLevelConnector"]
