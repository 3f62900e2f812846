"""Bulk API 2.0 ingest jobs: create, upload CSV, close, process, and the three result files.

A closed job is processed at once, but reads of its info show ``InProgress`` a configurable
number of times first, as the real asynchronous processing would. Empty CSV cells leave a
field unchanged and ``#N/A`` clears it. The ``Sforce-Duplicate-Rule-Header`` cannot be sent
with a job, so any active duplicate rule (alert or block) fails the matching rows (a guess at
Salesforce's behaviour: connectors should resend such rows through the REST API).

A job has no ``Sforce-Auto-Assign`` header: lead assignment runs only when the job names a rule
in ``assignmentRuleId`` (active or not, as Salesforce documents), on every row it writes.
"""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass, field
from typing import Any

from crmsync.providers.salesforce.emulator import ids
from crmsync.providers.salesforce.emulator.errors import (
    ItemError,
    RecordFailure,
    SalesforceError,
)
from crmsync.providers.salesforce.emulator.store import (
    MultipleMatches,
    OrgStore,
    WriteContext,
    timestamp,
)

OPERATIONS = ("insert", "update", "upsert", "delete")
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^"}
DONE = ("JobComplete", "Failed", "Aborted")


def job_error(status: int, code: str, message: str) -> SalesforceError:
    return SalesforceError(status, code, message)


@dataclass
class IngestJob:
    id: str
    sobject: str
    operation: str
    external_id_field: str | None
    delimiter: str
    line_ending: str
    created_by: str
    created_date: str
    api_version: str
    state: str = "Open"
    uploads: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    error_message: str = ""
    polls_left: int = 0
    assignment_rule: str | None = None

    def info(self) -> dict[str, Any]:
        delimiter = next(k for k, v in DELIMITERS.items() if v == self.delimiter)
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.sobject,
            "createdById": self.created_by,
            "createdDate": self.created_date,
            "systemModstamp": self.created_date,
            "state": self.state,
            "externalIdFieldName": self.external_id_field,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version.removeprefix("v")),
            "jobType": "V2Ingest",
            "lineEnding": self.line_ending,
            "columnDelimiter": delimiter,
            "numberRecordsProcessed": len(self.successful) + len(self.failed),
            "numberRecordsFailed": len(self.failed),
            "retries": 0,
            "totalProcessingTime": 0,
            "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
            "contentUrl": f"services/data/{self.api_version}/jobs/ingest/{self.id}/batches",
        }
        if self.error_message:
            body["errorMessage"] = self.error_message
        if self.assignment_rule:
            body["assignmentRuleId"] = self.assignment_rule
        return body


class IngestJobs:
    def __init__(self, store: OrgStore) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.jobs: dict[str, IngestJob] = {}
        self.polls_in_progress = 1
        self.fail_after: int | None = None

    def create(self, body: dict[str, Any], user_id: str, version: str) -> IngestJob:
        operation = str(body.get("operation") or "")
        if operation not in OPERATIONS:
            raise job_error(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        obj = self.store.sobject(str(body.get("object") or ""))
        external = body.get("externalIdFieldName")
        if operation == "upsert":
            if not external:
                raise job_error(400, "INVALIDJOB", "InvalidJob : External ID was blank for Lead")
            external = self.store.external_id_field(obj.name, str(external)).name
        if str(body.get("contentType") or "CSV") != "CSV":
            raise job_error(400, "INVALIDJOB", "InvalidJob : contentType must be CSV")
        delimiter = DELIMITERS.get(str(body.get("columnDelimiter") or "COMMA"))
        line_ending = str(body.get("lineEnding") or "LF")
        if delimiter is None or line_ending not in ("LF", "CRLF"):
            raise job_error(
                400, "INVALIDJOB", "InvalidJob : unsupported columnDelimiter or lineEnding"
            )
        rule = body.get("assignmentRuleId")
        rule_id = ids.normalise(str(rule)) if rule else None
        if rule and rule_id not in self.store.assignees:
            # the message is a guess: Salesforce documents no error for it
            raise job_error(400, "INVALIDJOB", f"InvalidJob : Invalid assignmentRuleId: {rule}")
        job = IngestJob(
            id=self.store.ids.new(ids.KEY_PREFIXES["Job"]),
            sobject=obj.name,
            operation=operation,
            external_id_field=str(external) if external else None,
            delimiter=delimiter,
            line_ending=line_ending,
            created_by=user_id,
            created_date=timestamp(self.store.clock()),
            api_version=version,
            assignment_rule=rule_id,
        )
        with self.lock:
            self.jobs[job.id] = job
        return job

    def get(self, job_id: str) -> IngestJob:
        with self.lock:
            job = self.jobs.get(ids.normalise(job_id) or "")
        if job is None:
            raise job_error(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def upload(self, job_id: str, data: bytes) -> None:
        job = self.get(job_id)
        if job.state != "Open":
            raise job_error(409, "INVALIDJOBSTATE", f"Job {job.id} is not Open (state {job.state})")
        job.uploads.append(data)

    def change_state(self, job_id: str, state: str, user_id: str) -> IngestJob:
        job = self.get(job_id)
        if state == "Aborted" and job.state not in DONE:
            job.state = "Aborted"
            return job
        if state != "UploadComplete" or job.state != "Open":
            raise job_error(
                400,
                "INVALIDJOBSTATE",
                f"Cannot change the state of job {job.id} from {job.state} to {state}",
            )
        job.state = "UploadComplete"
        rule = job.assignment_rule
        self._process(
            job, WriteContext(user_id, assignment_rule=rule, assign_updates=rule is not None)
        )
        job.polls_left = self.polls_in_progress
        return job

    def poll(self, job_id: str) -> IngestJob:
        """Job info as a poll sees it: ``InProgress`` until the configured reads are spent."""
        job = self.get(job_id)
        if job.state in ("UploadComplete", "InProgress"):
            if job.polls_left > 0:
                job.polls_left -= 1
                job.state = "InProgress"
            else:
                job.state = "Failed" if job.error_message else "JobComplete"
        return job

    def results(self, job_id: str, kind: str) -> str:
        job = self.get(job_id)
        if job.state not in DONE:
            raise job_error(400, "INVALIDJOBSTATE", f"Job {job.id} is not complete")
        columns = {
            "successfulResults": (["sf__Id", "sf__Created"], job.successful),
            "failedResults": (["sf__Id", "sf__Error"], job.failed),
            "unprocessedrecords": ([], job.unprocessed),
        }
        prefix, rows = columns[kind]
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow([*prefix, *job.header])
        writer.writerows(rows)
        return out.getvalue()

    # -- processing ------------------------------------------------------------------
    def _process(self, job: IngestJob, ctx: WriteContext) -> None:
        text = b"".join(job.uploads).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text), delimiter=job.delimiter))
        if not rows:
            job.error_message = "InvalidBatch : No content in the uploaded data"
            return
        job.header, body = rows[0], [r for r in rows[1:] if any(r)]
        obj = self.store.sobject(job.sobject)
        unknown = [name for name in job.header if obj.field(name) is None]
        key = job.external_id_field if job.operation == "upsert" else "Id"
        if unknown or (job.operation != "insert" and key not in job.header):
            missing = unknown[0] if unknown else key
            job.error_message = f"InvalidBatch : Field name not found : {missing}"
            job.unprocessed = body
            return
        for position, row in enumerate(body):
            if self.fail_after is not None and position >= self.fail_after:
                job.error_message = "InternalServerError : the job failed while processing"
                job.unprocessed = body[position:]
                return
            self._one(job, row, ctx)

    def _one(self, job: IngestJob, row: list[str], ctx: WriteContext) -> None:
        values = {
            name: (None if cell == "#N/A" else cell)
            for name, cell in zip(job.header, row, strict=False)
            if cell != ""
        }
        try:
            if job.operation == "upsert":
                key = job.external_id_field or ""
                saved, created = self.store.upsert(
                    job.sobject, key, str(values.pop(key, "") or ""), values, ctx
                )
            elif job.operation == "insert":
                saved, created = self.store.create(job.sobject, values, ctx), True
            elif job.operation == "update":
                record_id = str(values.pop("Id", "") or "")
                saved, created = self.store.update(job.sobject, record_id, values, ctx), False
            else:
                self.store.delete(job.sobject, str(values.get("Id") or ""), ctx.user_id)
                saved, created = {"Id": values.get("Id")}, False
        except RecordFailure as exc:
            job.failed.append(["", exc.errors[0].bulk_text(), *row])
        except MultipleMatches as exc:
            error = ItemError("DUPLICATE_EXTERNAL_ID", f"more than one record found: {exc.ids}")
            job.failed.append(["", error.bulk_text(), *row])
        except SalesforceError as exc:
            job.failed.append(["", ItemError(exc.code, exc.message).bulk_text(), *row])
        else:
            job.successful.append([str(saved["Id"]), "true" if created else "false", *row])
