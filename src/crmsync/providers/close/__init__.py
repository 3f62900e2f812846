"""Close: each person is a Lead with one Contact, matched by the Person ID custom field."""

from crmsync.connectors.registry import Provider
from crmsync.providers.close.connector import CloseConnector

PROVIDER = Provider(connector=CloseConnector)

__all__ = ["PROVIDER", "CloseConnector"]
