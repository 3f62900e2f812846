"""Host API: the CRMs this crmsync offers, and what connecting each one takes.

A host builds its connect form from this: the options a connection may take (an organisation's
own OAuth app, Salesforce's login host) and the callback URL that app must have registered.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from crmsync.api.deps import HostAuth, RuntimeDep
from crmsync.api.schemas import errors
from crmsync.connectors.spec import OWN_APP_OPTIONS

router = APIRouter(prefix="/api/v1", tags=["connection"])


class ProviderOut(BaseModel):
    name: str
    display_name: str
    callback_url: str = Field(
        description="The OAuth redirect URL an organisation's own app must have registered."
    )
    connection_options: list[str] = Field(
        description="What POST /orgs/{org}/connection accepts in `options`."
    )
    own_app: bool = Field(
        description="Whether an organisation may connect through an OAuth app of its own "
        "(`client_id` and `client_secret` in `options`)."
    )


@router.get("/providers", response_model=list[ProviderOut], responses=errors(401))
def list_providers(rt: RuntimeDep, _: HostAuth) -> list[ProviderOut]:
    """The CRMs offered, sorted by name."""
    found = []
    for name in rt.providers.names():
        connector = rt.provider(name).connector
        options = list(connector.connection_options)
        found.append(
            ProviderOut(
                name=name,
                display_name=connector.spec.display_name,
                callback_url=rt.redirect_uri(name),
                connection_options=options,
                own_app=set(OWN_APP_OPTIONS) <= set(options),
            )
        )
    return found
