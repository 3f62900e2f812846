"""Answers of the change feed and webhook routes (``crmsync.api.routes.feed``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

ChangeKindName = Literal["created", "updated", "deactivated", "reactivated", "owner_changed"]


class ChangeOwner(BaseModel):
    user_id: str | None = Field(description="The app user who owns the record, if known.")
    crm_user_email: str | None = Field(description="The owner's email in the CRM.")


class ChangeOut(BaseModel):
    seq: int = Field(description="The change's position in the org's feed (the cursor).")
    entity: str
    record_id: str
    person_id: str | None = Field(description="``record_id`` when the entity is a contact.")
    kind: ChangeKindName
    fields: dict[str, Any]
    owner: ChangeOwner
    at: str = Field(description="When it changed (ISO 8601, UTC).")


class ChangesPage(BaseModel):
    changes: list[ChangeOut]
    next: int = Field(description="Pass as ``after`` next time: the last seq, or ``after``.")


class WebhookIn(BaseModel):
    url: str = Field(description="https (http only to localhost), no credentials in it.")


class WebhookOut(BaseModel):
    id: str
    url: str
    secret: str = Field(description="Verifies ``Crmsync-Signature``; the host's own secret.")


class WebhookDeleted(BaseModel):
    id: str
    pending_dropped: int = Field(description="Pending deliveries dropped, never to be sent.")


class DeliveryOut(BaseModel):
    id: int = Field(description="Sent as ``Crmsync-Delivery``: receivers dedupe by it.")
    change_seq: int
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class RecordField(BaseModel):
    value: Any
    owner: str = Field(description="Whose edits win: ``app`` or the CRM's provider name.")
    changed_at: dict[str, str] = Field(
        description='When it last changed on each side: {"app": iso, "crm": iso}.'
    )


class RecordOut(BaseModel):
    entity: str
    record_id: str
    active: bool
    owner: ChangeOwner
    fields: dict[str, RecordField] = Field(description="Every mapped field, by local name.")
