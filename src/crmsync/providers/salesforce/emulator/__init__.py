"""An emulator of Salesforce's real REST API: OAuth web-server flow, sObjects and collections,
a SOQL subset, Tooling ``CustomField``, Bulk API 2.0 ingest, duplicate rules, the daily
allocation.

Connectors pointed at it work unchanged; tests, benchmarks and the demo need no Salesforce org.
"""

from crmsync.providers.salesforce.emulator.app import create_app
from crmsync.providers.salesforce.emulator.config import SalesforceEmulatorConfig
from crmsync.providers.salesforce.emulator.state import SalesforceEmulator

__all__ = ["SalesforceEmulator", "SalesforceEmulatorConfig", "create_app"]
