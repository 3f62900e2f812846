"""The providers a process offers, by name: an explicit list, filtered by settings.

The list itself is ``crmsync.providers.catalog.BUILTIN``; adding a CRM is adding its folder and
one line there. Emulators are not providers: they are listed apart
(``crmsync.providers.emulators``), so that a worker never imports them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crmsync.connectors.base import Connector
from crmsync.errors import InputError


@dataclass(frozen=True)
class Provider:
    """What a provider folder offers the product: its connector (and through it, its spec)."""

    connector: type[Connector]

    @property
    def name(self) -> str:
        return self.connector.spec.name


class Providers:
    """The offered providers, sorted by name; ``enabled`` (settings) keeps only those named."""

    def __init__(self, offered: Iterable[Provider], enabled: Iterable[str] = ()) -> None:
        keep = set(enabled)
        found = {p.name: p for p in offered if not keep or p.name in keep}
        self._by_name = dict(sorted(found.items()))

    def get(self, name: str) -> Provider:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name) or "none"
            raise InputError(f"unknown provider {name!r}; known providers: {known}") from None

    def names(self) -> list[str]:
        return list(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name
