"""HighLevel (LeadConnector API v2): people as contacts of the sub-account chosen at connect."""

from crmsync.connectors.registry import Provider
from crmsync.providers.highlevel.connector import HighLevelConnector
from crmsync.providers.highlevel.emulator.harness import HighLevelHarness

PROVIDER = Provider(connector=HighLevelConnector, emulator=HighLevelHarness)

__all__ = ["PROVIDER", "HighLevelConnector", "HighLevelHarness"]
