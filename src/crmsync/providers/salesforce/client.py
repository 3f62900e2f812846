"""Typed calls to Salesforce's REST, Tooling and Bulk 2.0 APIs on the org's ``instance_url``,
through the shared ApiClient and the org's daily allocation."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote as url_quote

import httpx

from crmsync.connectors.http import ApiClient, RateBudget, RetryPolicy, retry_after_header
from crmsync.connectors.paging import NextUrlPaging, PageRequest, collect
from crmsync.connectors.spec import ProviderSpec
from crmsync.errors import ApiProblem, error_for
from crmsync.providers.salesforce.allocation import Allocation
from crmsync.providers.salesforce.spec import API_VERSION

DUPLICATE_HEADER = {
    "Sforce-Duplicate-Rule-Header": "allowSave=true; includeRecordDetails=false; "
    "runAsCurrentUser=true"
}
"""Lets a lead flagged by an Alert-action duplicate rule save; Block-action rules still block."""
LEAD_WRITE_HEADERS = {**DUPLICATE_HEADER, "Sforce-Auto-Assign": "FALSE"}
"""Lead writes also say ``Sforce-Auto-Assign: FALSE``: the header defaults to TRUE, which runs
the org's active lead assignment rule on every created or updated lead and would re-own the
leads crmsync assigned (a lead crmsync finds no owner for keeps the running user). Bulk API 2.0
jobs take no such header and run a rule only when they name it (``assignmentRuleId``), so
crmsync's jobs name none."""


def quote(value: str) -> str:
    """A SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def item_problem(error: dict[str, Any]) -> ApiProblem:
    """One per-record error of a collection: ``{statusCode, message, fields}``; a duplicate
    rule's refusal names the rule and the records it matched."""
    code = str(error.get("statusCode") or "") or None
    message = str(error.get("message") or "")
    duplicate = error.get("duplicateResult")
    if code == "DUPLICATES_DETECTED" and isinstance(duplicate, dict):
        matched = [
            str(record.get("record", {}).get("Id"))
            for result in duplicate.get("matchResults", [])
            for record in result.get("matchRecords", [])
        ]
        message = (
            f"duplicate rule {duplicate.get('duplicateRule')!r} "
            f"({duplicate.get('errorMessage') or message})"
            + (f" matched {', '.join(matched)}" if matched else "")
        )
    return ApiProblem(status=400, code=code, message=message)


def soql_string(value: str) -> str:
    """A SOQL string literal: backslashes and quotes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class SalesforceClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        spec: ProviderSpec,
        budget: RateBudget,
        allocation: Allocation,
        instance_url: str,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.allocation = allocation
        self.instance_url = instance_url.rstrip("/")
        self.api = ApiClient(
            http, spec, budget, self.parse_problem, retry, on_response=allocation.observe
        )

    def parse_problem(self, response: httpx.Response) -> ApiProblem:
        """REST errors are ``[{"message", "errorCode"}]``; OAuth's ``{"error", ...}``."""
        try:
            body: Any = response.json()
        except ValueError:
            body = {}
        first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else body
        if not isinstance(first, dict):
            first = {}
        code = first.get("errorCode") or first.get("error")
        message = str(
            first.get("message") or first.get("error_description") or response.reason_phrase
        )
        retry_after = retry_after_header(response)
        if code == "REQUEST_LIMIT_EXCEEDED":
            daily = "TotalRequests" in message
            retry_after = self.allocation.until_next_window() if daily else 1.0
        return ApiProblem(response.status_code, code, message, retry_after)

    def url(self, path: str) -> str:
        return f"{self.instance_url}/services/data/{API_VERSION}/{path}"

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        await self.allocation.before_request()
        return await self.api.request(method, self.url(path), **kwargs)

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, path, **kwargs)).json()

    async def describe_fields(self, sobject: str) -> list[dict[str, Any]]:
        body = await self.json("GET", f"sobjects/{sobject}/describe")
        return list(body.get("fields", []))

    async def create_custom_field(self, definition: dict[str, Any]) -> bool:
        """Tooling API ``CustomField``; False when the field already exists."""
        response = await self.request(
            "POST",
            "tooling/sobjects/CustomField",
            json=definition,
            idempotent=True,
            accept={400: True},
        )
        if response.is_success:
            return True
        problem = self.parse_problem(response)
        if problem.code == "DUPLICATE_DEVELOPER_NAME":
            return False
        raise error_for(self.api.resolve(response))

    async def query(self, soql: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every record of a SOQL query, following ``nextRecordsUrl`` until ``done``;
        ``include_deleted`` runs it as ``queryAll`` (the recycle bin too)."""
        paging = NextUrlPaging(
            items=("records",), next_url=("nextRecordsUrl",), done=("done",), base=self.instance_url
        )
        path = "queryAll" if include_deleted else "query"
        return await collect(self._page, PageRequest("GET", self.url(path), {"q": soql}), paging)

    async def deleted(self, sobject: str, start: str, end: str) -> dict[str, Any] | None:
        """``getDeleted`` over [start, end); None when Salesforce refuses the window
        (``INVALID_REPLICATION_DATE``: older than it keeps)."""
        response = await self.request(
            "GET",
            f"sobjects/{sobject}/deleted/",
            params={"start": start, "end": end},
            accept={400: True},
        )
        if response.is_success:
            body: dict[str, Any] = response.json()
            return body
        if self.parse_problem(response).code == "INVALID_REPLICATION_DATE":
            return None
        raise error_for(self.api.resolve(response))

    async def _page(self, request: PageRequest) -> Any:
        await self.allocation.before_request()  # every call counts towards the daily allocation
        return await self.api.page(request)

    async def upsert(
        self, sobject: str, id_field: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Collection upsert by external ID: idempotent, one ordered result per record."""
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": sobject}, **r} for r in records],
        }
        result: list[dict[str, Any]] = await self.json(
            "PATCH",
            f"composite/sobjects/{sobject}/{id_field}",
            json=body,
            headers=LEAD_WRITE_HEADERS if sobject == "Lead" else DUPLICATE_HEADER,
        )
        return result

    async def upsert_one(
        self, sobject: str, id_field: str, value: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        """Upsert one record by external ID (idempotent): ``{"id", "created"}``."""
        result: dict[str, Any] = await self.json(
            "PATCH", f"sobjects/{sobject}/{id_field}/{url_quote(value, safe='')}", json=values
        )
        return result

    async def update_one(self, sobject: str, record_id: str, values: dict[str, Any]) -> bool:
        """Update one record by id; False when Salesforce no longer has it (deleted)."""
        response = await self.request(
            "PATCH", f"sobjects/{sobject}/{record_id}", json=values, accept={404: True}
        )
        return response.status_code != 404

    async def update(self, sobject: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Collection update by record id (each record carries its ``id``)."""
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": sobject}, **r} for r in records],
        }
        headers = LEAD_WRITE_HEADERS if sobject == "Lead" else DUPLICATE_HEADER
        result: list[dict[str, Any]] = await self.json(
            "PATCH", "composite/sobjects", json=body, headers=headers
        )
        return result

    # -- Bulk API 2.0 ingest ------------------------------------------------------------
    async def create_upsert_job(self, sobject: str, id_field: str) -> dict[str, Any]:
        job = {
            "object": sobject,
            "externalIdFieldName": id_field,
            "contentType": "CSV",
            "operation": "upsert",
            "lineEnding": "LF",
        }
        result: dict[str, Any] = await self.json("POST", "jobs/ingest", json=job, idempotent=False)
        return result

    async def upload_job_data(self, job_id: str, data: bytes) -> None:
        await self.request(
            "PUT",
            f"jobs/ingest/{job_id}/batches",
            content=data,
            headers={"Content-Type": "text/csv"},
            idempotent=False,
        )

    async def set_job_state(self, job_id: str, state: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.json(
            "PATCH", f"jobs/ingest/{job_id}", json={"state": state}, idempotent=False
        )
        return result

    async def job_info(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.json("GET", f"jobs/ingest/{job_id}")
        return result

    async def job_results(self, job_id: str, kind: str) -> str:
        """``successfulResults``, ``failedResults`` or ``unprocessedrecords`` as CSV text."""
        response = await self.request("GET", f"jobs/ingest/{job_id}/{kind}/")
        return response.text
