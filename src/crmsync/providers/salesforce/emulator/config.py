"""Settings of the Salesforce emulator; defaults match a Developer Edition org with one
connected app, refresh-token rotation on, and the app's managed package installed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SalesforceEmulatorConfig:
    client_id: str = "crmsync-demo-consumer-key"
    client_secret: str = "crmsync-demo-consumer-secret"
    app_name: str = "crmsync"
    instance_url: str = "https://crmsync-demo.my.salesforce.com"
    """Where the token response sends API calls; ``settings_for`` points it at a served port."""
    org_name: str = "crmsync demo"
    organization_type: str = "Developer Edition"
    instance_name: str = "NA224"
    is_sandbox: bool = False
    """The ``Organization`` record: what ``SELECT IsSandbox FROM Organization`` tells."""
    admin_email: str = "admin@crmsync-demo.test"
    admin_password: str = "demo-password"
    """Prefilled on the emulated login form, so demos and benchmarks click straight through."""
    rotate_refresh_tokens: bool = True
    session_seconds: int = 7200
    """Salesforce's default session timeout; no ``expires_in`` is sent, a 401 tells."""
    allocation_enabled: bool = True
    daily_allocation: int = 100_000
    allocation_window_seconds: float = 86_400.0
    package_fields: tuple[str, ...] = ()
    """Lead custom fields the app's managed package installs, e.g. ``Acme_Person_ID__c``;
    a field ending in ``_Person_ID__c`` is the unique external ID."""
    package_objects: tuple[str, ...] = ()
    """Custom objects the package installs: ``Acme_Conversation__c`` (conversations, with a
    lookup to the Lead and to the Contact it became)."""
    duplicate_rule: str = "none"
    """none | alert | block: a Lead duplicate rule matching on Email."""
    duplicate_rule_name: str = "Standard_Lead_Duplicate_Rule"
    query_page_size: int = 2000
    bulk_polls_in_progress: int = 1
    """How many job-info reads show ``InProgress`` before a closed job is ``JobComplete``."""
    bulk_fail_after: int | None = None
    """Fail every ingest job after this many rows (the rest stay unprocessed)."""
    deleted_retention_days: float = 15.0
    """How long a deleted record stays in the recycle bin (``queryAll``) and the delete log
    (``getDeleted``) before it is physically deleted."""
    crm_user_email: str = "sales.rep@crmsync-demo.test"
    """The user harness controls act as ("a CRM user"), so their edits are not crmsync's."""
    timeout_sleep_seconds: float = 30.0
    fault_seed: int = 0
    clock: Callable[[], float] = field(default=time.time)
