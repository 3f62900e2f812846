"""The two kinds of client model: what is sent (strict) and what is answered (lenient)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Sent(BaseModel):
    """A request body: a misspelt field fails here, not silently on the service."""

    model_config = ConfigDict(extra="forbid")


class _Answer(BaseModel):
    """A response body: fields the service adds later are ignored, not an error."""

    model_config = ConfigDict(extra="ignore", frozen=True)
