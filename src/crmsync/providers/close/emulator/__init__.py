"""An emulator of Close's real REST API (OAuth, leads with nested contacts, contacts, contact
custom fields, advanced-filtering search, users).

Connectors pointed at it work unchanged; tests, benchmarks and demos need no Close account.
"""

from crmsync.providers.close.emulator.app import create_app
from crmsync.providers.close.emulator.config import CloseEmulatorConfig
from crmsync.providers.close.emulator.state import CloseEmulator

__all__ = ["CloseEmulator", "CloseEmulatorConfig", "create_app"]
