"""HighLevel (LeadConnector API v2) facts as data (see docs/providers/highlevel.md)."""

from __future__ import annotations

from crmsync.connectors.spec import OAuthSpec, ProviderSpec, RateLimitSpec
from crmsync.domain.outcomes import Action
from crmsync.errors import Rule

API_VERSION = "2021-07-28"
"""Sent as the ``Version`` header on every API request; HighLevel refuses calls without it."""

DAILY_LIMIT = 200_000
"""Requests per day per app per location, besides the 100 per 10 s burst limit."""

DUPLICATE_CONTACT = "duplicate_contact"
"""Our code for HighLevel's 400 "This location does not allow duplicated contacts."."""

CONTACT_NOT_FOUND = "contact_not_found"

SCOPES = (
    "contacts.readonly",
    "contacts.write",
    "locations.readonly",
    "locations/customFields.readonly",
    "locations/customFields.write",
    "users.readonly",
)

SPEC = ProviderSpec(
    name="highlevel",
    display_name="HighLevel",
    crm_object="contacts",
    record_label="Contact",
    oauth=OAuthSpec(
        authorize_url="https://marketplace.gohighlevel.com/oauth/chooselocation",
        token_url="https://services.leadconnectorhq.com/oauth/token",
        scopes=SCOPES,
        pkce=False,  # HighLevel documents no PKCE support
        extra_token_params={"user_type": "Location"},
    ),
    api_base="https://services.leadconnectorhq.com",
    rate_limit=RateLimitSpec(requests=100, per_seconds=10.0),
    # No batch write exists: a batch is one Person ID search plus one write per person.
    batch_size=50,
    records_per_call=1,  # no batch write: one POST /contacts/ or PUT /contacts/{id} each
    error_rules=(
        Rule(
            Action.SKIP,
            "HighLevel's location does not allow duplicated contacts",
            status=400,
            code=DUPLICATE_CONTACT,
        ),
        Rule(Action.FAIL, "HighLevel no longer has this contact", code=CONTACT_NOT_FOUND),
        Rule(Action.FAIL, "HighLevel rejected the values", status=422),
        Rule(Action.FAIL, "HighLevel refused the token's access to this location", status=403),
    ),
    recommendations={
        DUPLICATE_CONTACT: (
            "HighLevel refuses a second contact with the same email or phone. To sync these "
            "people too, enable Settings → Business Profile → Contact Deduplication Preferences "
            "→ Allow Duplicate Contact in the sub-account, then retry the skipped operations."
        )
    },
    record_url="https://app.gohighlevel.com/v2/location/{account_id}/contacts/detail/{crm_id}",
)
