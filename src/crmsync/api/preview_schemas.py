"""Bodies and answers of "Preview and test" (``POST /orgs/{org}/connection/preview``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from crmsync.api.schemas import SafeStr, Strict
from crmsync.services import preview as service

PreviewStatusName = Literal[
    "inserted", "updated", "unchanged", "ignored", "deactivated", "upserted", "failed"
]


class PreviewIn(Strict):
    direction: Literal["import", "export"]
    crm_id: SafeStr | None = Field(None, description="The CRM record to import (import).")
    person_id: SafeStr | None = Field(None, description="The app contact to export (export).")
    run: bool = Field(False, description='Do it for real and log it ("Run test").')


class FieldPreviewOut(BaseModel):
    app_field: str
    crm_field: str
    value: Any = Field(description="The incoming (import) or outgoing (export) value.")
    outcome: str = Field(
        description="import: taken | written_back | unchanged | not_read; export: sent | not_sent."
    )
    reason: str

    @classmethod
    def of(cls, row: service.FieldPreview) -> FieldPreviewOut:
        return cls(
            app_field=row.app_field,
            crm_field=row.crm_field,
            value=row.value,
            outcome=row.outcome,
            reason=row.reason,
        )


class PreviewOut(BaseModel):
    direction: Literal["import", "export"]
    status: PreviewStatusName = Field(description="What the real run gives (or gave, with run).")
    reason: str = Field(description="The ownership rule or mode that decided it.")
    mode: str = Field(description="The connection's import or export mode it was decided under.")
    crm_id: str | None
    person_id: str | None
    fields: list[FieldPreviewOut]
    ran: bool
    operation_id: int | None = Field(description="The log's operation, when it ran.")
    result: dict[str, Any] = Field(description="What the run's operation recorded (export).")

    @classmethod
    def of(cls, found: service.Preview) -> PreviewOut:
        direction: Literal["import", "export"] = (
            "import" if found.direction == service.IMPORT else "export"
        )
        return cls(
            direction=direction,
            status=found.status.value,  # type: ignore[arg-type]
            reason=found.reason,
            mode=found.mode,
            crm_id=found.crm_id,
            person_id=found.person_id,
            fields=[FieldPreviewOut.of(row) for row in found.fields],
            ran=found.ran,
            operation_id=found.operation_id,
            result=found.result,
        )
