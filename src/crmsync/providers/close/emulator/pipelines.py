"""Pipelines and opportunity statuses (``GET /pipeline/``, ``GET /status/opportunity/``).

Each opportunity status belongs to one pipeline and has a ``type`` of ``active``, ``won`` or
``lost``, as Close documents. A new organisation has one pipeline, "Sales", with the statuses
Active, Won and Lost (Close's defaults for a new organisation are unconfirmed). The harness adds
more pipelines and statuses; the API side only reads them here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from crmsync.providers.close.emulator.errors import invalid
from crmsync.providers.close.emulator.records import new_id

STATUS_TYPES = ("active", "won", "lost")
DEFAULT_PIPELINE = ("Sales", (("Active", "active"), ("Won", "won"), ("Lost", "lost")))


@dataclass
class OpportunityStatus:
    id: str
    organization_id: str
    pipeline_id: str
    label: str
    type: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organization_id": self.organization_id,
            "pipeline_id": self.pipeline_id,
            "label": self.label,
            "type": self.type,
        }


@dataclass
class Pipeline:
    id: str
    organization_id: str
    name: str
    date_created: str
    statuses: list[OpportunityStatus] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organization_id": self.organization_id,
            "name": self.name,
            "date_created": self.date_created,
            "date_updated": self.date_created,
            "statuses": [s.as_json() for s in self.statuses],
        }


@dataclass
class PipelineStore:
    """Every organisation's pipelines, in creation order."""

    now: Callable[[], str]
    organizations: Sequence[str]
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.pipelines.clear()
        name, statuses = DEFAULT_PIPELINE
        for org_id in self.organizations:
            self.add(org_id, name, statuses)

    def add(self, org_id: str, name: str, statuses: Sequence[tuple[str, str]]) -> Pipeline:
        """A pipeline with its ``(label, type)`` statuses, in order."""
        bad = [kind for _, kind in statuses if kind not in STATUS_TYPES]
        if bad or not statuses:
            raise invalid(field_errors={"statuses": f"Each type is one of {STATUS_TYPES}."})
        pipeline = Pipeline(new_id("pipe_"), org_id, name, self.now())
        pipeline.statuses = [
            OpportunityStatus(new_id("stat_"), org_id, pipeline.id, label, kind)
            for label, kind in statuses
        ]
        with self.lock:
            self.pipelines[pipeline.id] = pipeline
        return pipeline

    def of(self, org_id: str) -> list[Pipeline]:
        with self.lock:
            return [p for p in self.pipelines.values() if p.organization_id == org_id]

    def statuses(self, org_id: str) -> list[OpportunityStatus]:
        return [s for p in self.of(org_id) for s in p.statuses]

    def status(self, org_id: str, status_id: str) -> OpportunityStatus | None:
        return next((s for s in self.statuses(org_id) if s.id == status_id), None)

    def first_active(self, org_id: str) -> OpportunityStatus:
        """The status a new opportunity gets when none is given (unconfirmed: Close's
        organisation default)."""
        found = [s for s in self.statuses(org_id) if s.type == "active"]
        return (found or self.statuses(org_id))[0]
