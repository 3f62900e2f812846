"""Request dependencies as ``Annotated`` aliases: the runtime and host authentication."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from crmsync.db.tables import ApiKey
from crmsync.engine.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="A host API key (`crmsync apikey create`).")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def hash_key(key: str) -> str:
    return hashlib.sha256(_utf8(key)).hexdigest()


def require_host_key(
    rt: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The host application authenticates every call with its API key (Bearer)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing host API key (Authorization: Bearer ...)")
    key = credentials.credentials
    if any(same_secret(key, k) for k in rt.settings.host_api_keys):
        return "settings"
    with rt.db.session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None:
        raise HTTPException(401, "invalid host API key")
    return row.id


def same_secret(sent: str, expected: str) -> bool:
    """``sent`` is ``expected``, compared in constant time."""
    return hmac.compare_digest(_utf8(sent), _utf8(expected))


def _utf8(text: str) -> bytes:
    """As bytes: ``compare_digest`` refuses str with non-ASCII characters (a TypeError, a 500),
    and a header may carry any byte (Starlette decodes it as Latin-1)."""
    return text.encode("utf-8", "surrogatepass")


HostAuth = Annotated[str, Depends(require_host_key)]
