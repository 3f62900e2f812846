"""A CRM emulator served by a process of its own, for bench/backfill.py, vs_sdk.py and soak.py.

The process prints a JSON banner on its first stdout line, at least ``base_url`` and
``settings`` (the provider overrides that point crmsync at it), then serves.
``crmsync emulate PROVIDER`` does (see :func:`emulate`); bench/soak.py serves its own, with a
records route added. :class:`EmulatorProcess` reads the banner, waits until the emulator
answers, is driven over HTTP and stops the process at the end: the emulator never shares the
GIL with the code being measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import IO, Any

import httpx

from crmsync.cli.serving import free_port

COUNTERS = "/_emulator/counters"  # a control route: not rate limited, not counted, not faulted


def wait_for(probe: Callable[[], object], what: str, timeout: float = 90) -> None:
    """Call ``probe`` until it gets through (no transport error); SystemExit after ``timeout``
    seconds, naming ``what`` did not start."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start") from None
            time.sleep(0.1)


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Terminate ``process``; kill it if it has not ended 10 s later."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class EmulatorProcess:
    """One provider's emulator in the process ``command`` starts; a context manager that stops
    it. ``banner`` is all of its first line; ``timeout`` is for each request through ``api``."""

    def __init__(
        self,
        provider: str,
        command: Sequence[str],
        *,
        stderr: IO[bytes] | None = None,
        timeout: float = 30,
    ) -> None:
        self.provider = provider
        self.process = subprocess.Popen(
            list(command), stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        self.http = httpx.Client(timeout=timeout)
        try:
            assert self.process.stdout is not None
            banner = json.loads(self.process.stdout.readline() or "null")
            if not banner:
                where = f": see {stderr.name}" if stderr is not None else ""
                raise SystemExit(f"the {provider} emulator did not start{where}")
            self.banner: dict[str, Any] = banner
            self.base: str = banner["base_url"]
            self.settings: dict[str, Any] = banner["settings"]
            self.http.base_url = httpx.URL(self.base)
            wait_for(lambda: self.http.get(COUNTERS), f"the {provider} emulator")
        except BaseException:
            self.stop()
            raise

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """A request to the emulator (its CRM API or a ``/_emulator/`` control); the JSON
        answer, raising on an error status."""
        response = self.http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def counters(self) -> dict[str, Any]:
        """Calls counted since the last reset: ``total`` and ``by_endpoint``."""
        counters: dict[str, Any] = self.api("GET", COUNTERS)
        return counters

    def reset_counters(self) -> None:
        self.api("POST", f"{COUNTERS}/reset")

    def stop(self) -> None:
        """Terminate the process (kill it if it has not ended 10 s later)."""
        self.http.close()
        stop_process(self.process)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def emulate(
    provider: str, *, users: Iterable[str] = (), rate_limited: bool = True
) -> EmulatorProcess:
    """``crmsync emulate PROVIDER`` on a free port, with ``users`` (``email:first:last``)
    seeded; ``rate_limited=False`` turns the provider's rate limits off."""
    command = [sys.executable, "-m", "crmsync.cli.main", "emulate", provider]
    command += ["--port", str(free_port())]
    for user in users:
        command += ["--user", user]
    if not rate_limited:
        command.append("--no-rate-limit")
    return EmulatorProcess(provider, command)
