"""The integration log's answers: one attempted write, and where one person stands."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from crmsync.api.schemas import UtcDateTime
from crmsync.domain import views


class OperationOut(BaseModel):
    id: int
    connection_id: str = Field(description="The connection the operation wrote to.")
    provider: str = Field(description="That connection's CRM (not necessarily today's).")
    person_id: str
    lane: str
    status: str
    reason: str
    code: str | None = None
    crm_id: str | None
    attempts: int
    retry_of: int | None
    request_summary: dict[str, Any]
    response_summary: dict[str, Any]
    created_at: UtcDateTime
    updated_at: UtcDateTime
    entity: str = Field("contact", description="contact | conversation (person_id: its id).")

    @classmethod
    def of(cls, view: views.OperationEntry) -> OperationOut:
        return cls(
            id=view.id,
            connection_id=view.connection_id,
            provider=view.provider,
            person_id=view.person_id,
            lane=view.lane,
            status=view.status,
            reason=view.reason,
            code=view.code,
            crm_id=view.crm_id,
            attempts=view.attempts,
            retry_of=view.retry_of,
            request_summary=view.request_summary,
            response_summary=view.response_summary,
            created_at=view.created_at,
            updated_at=view.updated_at,
            entity=view.entity,
        )


class PersonSyncOut(BaseModel):
    person_id: str
    provider: str
    status: str
    crm_id: str | None
    crm_url: str | None
    last_synced_at: UtcDateTime | None
    queued: bool
    last_operation: OperationOut | None

    @classmethod
    def of(cls, view: views.PersonSync) -> PersonSyncOut:
        last = view.last_operation
        return cls(
            person_id=view.person_id,
            provider=view.provider,
            status=view.status,
            crm_id=view.crm_id,
            crm_url=view.crm_url,
            last_synced_at=view.last_synced_at,
            queued=view.queued,
            last_operation=OperationOut.of(last) if last is not None else None,
        )
