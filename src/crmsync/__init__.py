"""crmsync: keeps an application's people in sync with its customers' CRMs."""

__version__ = "0.1.0"
