"""A typed Python client for crmsync's host API, sync (``Client``) and async
(``AsyncClient``), on httpx. It imports nothing of the service (no FastAPI, no SQLAlchemy).

    with Client("http://127.0.0.1:8000", api_key="csk_...") as crmsync:
        crmsync.unlock("acme", "p-123", unlocked_by="u1")
"""

from crmsync.client._async import AsyncClient
from crmsync.client._sync import Client
from crmsync.client.errors import (
    BadRequest,
    ClientError,
    Conflict,
    CrmFailed,
    CrmsyncError,
    FieldIssue,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
)
from crmsync.client.models import (
    Authorization,
    BackfillProgress,
    Connection,
    Health,
    Message,
    Operation,
    Org,
    PeopleSaved,
    Person,
    PersonSaved,
    PersonSync,
    ReadBack,
    Role,
    SetupState,
    SyncCounts,
    Unlock,
    UnlocksAccepted,
    User,
)

__all__ = [
    "AsyncClient",
    "Authorization",
    "BackfillProgress",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "Connection",
    "CrmFailed",
    "CrmsyncError",
    "FieldIssue",
    "Health",
    "InvalidInput",
    "Message",
    "NotFound",
    "Operation",
    "Org",
    "PayloadTooLarge",
    "PeopleSaved",
    "Person",
    "PersonSaved",
    "PersonSync",
    "RateLimited",
    "ReadBack",
    "Role",
    "ServerError",
    "SetupState",
    "SyncCounts",
    "Unauthorized",
    "Unavailable",
    "Unlock",
    "UnlocksAccepted",
    "User",
]
