"""Prometheus metrics: what an operator watches.

Database-backed figures (queue depth per lane, operations by status, connections by status)
are read at scrape time, so any process (API or worker) reports the whole system. CRM
responses and sync latency are counted by the process that made the calls: scrape workers too
(``crmsync worker --metrics-port``).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from crmsync.connectors.http import CallStats
from crmsync.db.session import Database
from crmsync.db.tables import Connection, Operation, WorkItem


def sync_latency_histogram() -> Histogram:
    """One per process (the runtime's): observed by the engine as each write lands."""
    return Histogram(
        "crmsync_sync_latency_seconds",
        "From the moment work was queued to the CRM confirming the write.",
        buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 7200),
        registry=None,
    )


class DatabaseCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queue = GaugeMetricFamily(
            "crmsync_queue_depth",
            "Work items waiting, by lane and status.",
            labels=["lane", "status"],
        )
        ops = GaugeMetricFamily(
            "crmsync_operations", "Operation log rows by status.", labels=["status"]
        )
        conns = GaugeMetricFamily(
            "crmsync_connections",
            "Connections by provider and status.",
            labels=["provider", "status"],
        )
        with self.db.session() as session:
            for lane, status, count in session.execute(
                select(WorkItem.lane, WorkItem.status, func.count()).group_by(
                    WorkItem.lane, WorkItem.status
                )
            ):
                queue.add_metric([lane, status], count)
            for status, count in session.execute(
                select(Operation.status, func.count()).group_by(Operation.status)
            ):
                ops.add_metric([status], count)
            for provider, status, count in session.execute(
                select(Connection.provider, Connection.status, func.count()).group_by(
                    Connection.provider, Connection.status
                )
            ):
                conns.add_metric([provider, status], count)
        yield from (queue, ops, conns)


class CallCollector(Collector):
    def __init__(self, calls: CallStats) -> None:
        self.calls = calls

    def collect(self) -> Iterator[CounterMetricFamily]:
        calls = CounterMetricFamily(
            "crmsync_crm_responses",
            "CRM responses seen by this process, by provider and HTTP status (429s included).",
            labels=["provider", "status"],
        )
        for (provider, status), count in sorted(self.calls.snapshot().items()):
            calls.add_metric([provider, str(status)], count)
        yield calls


def registry_for(db: Database, calls: CallStats, sync_latency: Histogram) -> CollectorRegistry:
    """What one process reports: the database's figures, and its own calls and latency."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(DatabaseCollector(db))
    registry.register(CallCollector(calls))
    registry.register(sync_latency)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
