"""Each worker thread's event loop, kept from run to run (owned by the ``Runtime``).

A fresh loop per run (``asyncio.run``) also means a fresh default thread pool, whose threads
every run would start again; a thread's loop is closed when the thread ends and its locals go.
"""

from __future__ import annotations

import asyncio
import threading


class _LoopHolder:
    def __init__(self) -> None:
        self.runner = asyncio.Runner()

    def __del__(self) -> None:
        loop = self.runner.get_loop()
        if not loop.is_running():  # at interpreter exit a thread may die mid-run
            loop.close()


class ThreadLoops:
    """One ``asyncio.Runner`` per thread that asks for one."""

    def __init__(self) -> None:
        self._local = threading.local()

    def runner(self) -> asyncio.Runner:
        holder: _LoopHolder | None = getattr(self._local, "holder", None)
        if holder is None:
            holder = self._local.holder = _LoopHolder()
        return holder.runner
