"""HubSpot facts as data (see docs/connectors.md and the CRM API notes)."""

from __future__ import annotations

from crmsync.connectors.spec import OAuthSpec, ProviderSpec, RateLimitSpec
from crmsync.domain.outcomes import Action
from crmsync.errors import Rule

SPEC = ProviderSpec(
    name="hubspot",
    display_name="HubSpot",
    crm_object="contacts",
    record_label="Contact",
    oauth=OAuthSpec(
        authorize_url="https://app.hubspot.com/oauth/authorize",
        token_url="https://api.hubapi.com/oauth/v1/token",
        scopes=(
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
            "crm.schemas.contacts.read",
            "crm.schemas.contacts.write",
            "crm.objects.owners.read",
            "oauth",
        ),
        pkce=True,
    ),
    api_base="https://api.hubapi.com",
    rate_limit=RateLimitSpec(requests=110, per_seconds=10.0),
    batch_size=100,
    upserts=True,
    error_rules=(
        Rule(
            Action.FAIL,
            "HubSpot allows one contact per email and another contact already has this one",
            status=409,
            code="CONFLICT",
        ),
        Rule(Action.FAIL, "HubSpot rejected the values", status=400, code="VALIDATION_ERROR"),
        Rule(Action.RATE_LIMITED, "HubSpot's rate limit was reached", code="RATE_LIMIT"),
    ),
    record_id_field="hs_object_id",
    record_url="https://app.hubspot.com/contacts/{account_id}/record/0-1/{crm_id}",
)
