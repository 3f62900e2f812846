"""Close: each person is a Lead with one Contact, matched by the Person ID custom field."""

from crmsync.connectors.registry import Provider
from crmsync.providers.close.connector import CloseConnector
from crmsync.providers.close.emulator.harness import CloseHarness

PROVIDER = Provider(connector=CloseConnector, emulator=CloseHarness)

__all__ = ["PROVIDER", "CloseConnector", "CloseHarness"]
