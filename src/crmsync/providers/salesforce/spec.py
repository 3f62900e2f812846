"""Salesforce facts as data (see docs/providers/salesforce.md and the CRM API notes)."""

from __future__ import annotations

import re
from typing import Any

from crmsync.connectors.spec import (
    OWN_APP_OPTIONS,
    ConnectStep,
    OAuthSpec,
    ProviderSpec,
    RateLimitSpec,
)
from crmsync.domain.outcomes import Action
from crmsync.errors import InputError, Rule

API_VERSION = "v60.0"
PACKAGE_INSTALL_URL = "https://login.salesforce.com/packaging/installPackage.apexp?p0=04tCRMSYNC"
"""Where an admin installs the app's managed package; ``package_install_url`` in the
connection's settings replaces it (placeholder id until the package is published)."""
LOGIN_HOSTS = {"login": "login.salesforce.com", "test": "test.salesforce.com"}
_MY_DOMAIN = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.(?:sandbox|develop|scratch))?\.my\.salesforce\.com$"
)
OPTIONS = ("login_host", *OWN_APP_OPTIONS)

SPEC = ProviderSpec(
    name="salesforce",
    display_name="Salesforce",
    crm_object="Lead",
    record_label="Lead",
    connect_steps=(
        ConnectStep(
            title="Install the managed package",
            text="It adds the Person ID and Profile URL fields to Leads. If you skip it, "
            "crmsync lists the missing fields after you authorise and can create them.",
            url=PACKAGE_INSTALL_URL,
            link_label="Open the package install page",
        ),
    ),
    oauth=OAuthSpec(
        authorize_url="https://login.salesforce.com/services/oauth2/authorize",
        token_url="https://login.salesforce.com/services/oauth2/token",
        scopes=("api", "refresh_token", "offline_access"),
        pkce=True,
        refreshed_settings=("instance_url",),  # every token response names the org's host
    ),
    api_base="https://login.salesforce.com",
    # Salesforce publishes no per-second limit (only the daily allocation and 25 concurrent
    # long requests); crmsync paces itself at 10 requests/s per org.
    rate_limit=RateLimitSpec(requests=10, per_seconds=1.0),
    batch_size=200,
    upserts=True,
    error_rules=(
        Rule(
            Action.RATE_LIMITED,
            "Salesforce's API request limit was reached",
            status=403,
            code="REQUEST_LIMIT_EXCEEDED",
        ),
        Rule(
            Action.FAIL, "a Salesforce duplicate rule blocked this lead", code="DUPLICATES_DETECTED"
        ),
        Rule(Action.RETRY, "Salesforce could not lock the record", code="UNABLE_TO_LOCK_ROW"),
        Rule(
            Action.FAIL,
            "a validation rule in the org refused the lead",
            code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
        ),
        Rule(Action.FAIL, "Salesforce refused the values", code="REQUIRED_FIELD_MISSING"),
        Rule(Action.FAIL, "this org has no API access", code="API_DISABLED_FOR_ORG"),
    ),
    recommendations={
        "DUPLICATES_DETECTED": (
            "A Salesforce duplicate rule with the Block action refused some leads. Change the "
            "rule's action to Allow (with an alert), or merge the existing records, then retry."
        ),
        "FIELD_CUSTOM_VALIDATION_EXCEPTION": (
            "A validation rule on Lead refused some records: ask your Salesforce admin to "
            "exempt the crmsync integration user, then retry."
        ),
        "API_DISABLED_FOR_ORG": (
            "This Salesforce edition has no API access (Professional Edition needs the API "
            "add-on); crmsync cannot sync until it is enabled."
        ),
        "INVALID_CROSS_REFERENCE_KEY": (
            "Salesforce refused a record owner: check that the matching users are active."
        ),
    },
    # Two jobs of 5,000 open at once: one is uploaded while Salesforce processes the other.
    # Measured by bench/backfill.py at 200,000 people: one job of 10,000 at a time, 1,969
    # records/s and 249 MB; two of 10,000, 2,713 records/s but 396 MB; two of 5,000, 2,303
    # records/s and 268 MB (a job's people are planned, written as CSV and recorded together).
    bulk_threshold=5_000,
    bulk_max=5_000,
    bulk_parallel=2,
    # Lightning's record page on the org's own host (the token's instance_url); the
    # connector's record_url names Contact instead of Lead for a converted lead's contact.
    record_id_field="Id",
    record_url="{instance_url}/lightning/r/Lead/{crm_id}/view",
)


def login_host(value: str) -> str:
    """``login``, ``test`` or a My Domain host (``acme.my.salesforce.com``)."""
    host = value.strip().lower().removeprefix("https://").rstrip("/")
    host = LOGIN_HOSTS.get(host, host)
    if host not in LOGIN_HOSTS.values() and not _MY_DOMAIN.match(host):
        raise InputError(
            f"login_host must be 'login', 'test' or a My Domain host such as "
            f"acme.my.salesforce.com, not {value!r}"
        )
    return host


def login_host_overrides(options: dict[str, str]) -> dict[str, Any]:
    """Spec overrides for a sandbox or My Domain login host (the org's own connected app is
    the connector contract's ``own_app_overrides``)."""
    if not options.get("login_host"):
        return {}
    host = login_host(options["login_host"])
    return {
        "authorize_url": f"https://{host}/services/oauth2/authorize",
        "token_url": f"https://{host}/services/oauth2/token",
    }
