"""Close facts as data (see docs/providers/close.md and the CRM API notes).

Rate limit: Close enforces limits per endpoint group, per API key and per organisation (the
organisation's is 3x the key's) and publishes 20 requests per second per key as its example
figure; crmsync paces every call of one Close organisation through a single 20 req / 1 s budget,
which stays under both the key and the organisation limit whatever the endpoint group.
"""

from __future__ import annotations

from crmsync.connectors.spec import OAuthSpec, ProviderSpec, RateLimitSpec
from crmsync.domain.outcomes import Action
from crmsync.errors import Rule

SPEC = ProviderSpec(
    name="close",
    display_name="Close",
    crm_object="contact",
    record_label="Contact",
    oauth=OAuthSpec(
        authorize_url="https://app.close.com/oauth2/authorize/",
        token_url="https://api.close.com/oauth2/token/",
        scopes=("all.full_access", "offline_access"),
        pkce=False,  # Close documents the plain authorization-code flow
        token_endpoint_auth_method="client_secret_post",
    ),
    api_base="https://api.close.com/api/v1",
    rate_limit=RateLimitSpec(requests=20, per_seconds=1.0),
    batch_size=100,
    records_per_call=1,  # no batch create: one Lead (with its Contact) per POST /lead/
    error_rules=(
        Rule(Action.FAIL, "Close rejected the values", status=400),
        Rule(
            Action.FAIL, "Close refused: a limit of the organisation's plan was reached", status=402
        ),
        Rule(Action.FAIL, "the Close record no longer exists", status=404),
    ),
    record_url="",  # Close shows contacts on their lead's page; the contact id alone has no URL
)
