"""Process settings for a long-running crmsync process (server, worker, benchmark)."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Call once startup is done. Everything allocated so far (modules, the app, caches of
    compiled statements) lives as long as the process: frozen, the cyclic collector stops
    walking it on every full collection. The engine allocates short-lived dicts by the
    hundred thousand; collecting the youngest generation every 10,000 allocations instead of
    700 finds the same cycles. Measured under an unlimited backfill: the collector's time
    went from 0.44 s to 0.03 s per 20,000 records, 6 % of the engine's CPU."""
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
