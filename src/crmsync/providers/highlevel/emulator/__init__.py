"""An emulator of HighLevel's real API v2 (chooselocation OAuth, contacts, custom fields,
users, duplicate rules, rate limits), so tests, benchmarks and demos need no HighLevel account.
"""

from crmsync.providers.highlevel.emulator.app import create_app
from crmsync.providers.highlevel.emulator.config import HighLevelEmulatorConfig, LocationSeed
from crmsync.providers.highlevel.emulator.state import HighLevelEmulator

__all__ = ["HighLevelEmulator", "HighLevelEmulatorConfig", "LocationSeed", "create_app"]
