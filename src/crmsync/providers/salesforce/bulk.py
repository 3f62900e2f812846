"""Backfills through Bulk API 2.0: one CSV upsert job on the Person ID external ID.

Create the job, upload the CSV, mark it ``UploadComplete``, poll (heartbeating the engine's
lease) until ``JobComplete``/``Failed``/``Aborted``, then read ``successfulResults/``,
``failedResults/`` and ``unprocessedrecords/`` and map each row back to its person by the
external ID column (result order is not guaranteed). An empty cell leaves a field as it is and
``#N/A`` clears it.

A job cannot send the duplicate-rule header, and converted leads refuse updates, so rows that
failed with ``DUPLICATES_DETECTED`` or ``CANNOT_UPDATE_CONVERTED_LEAD`` are sent again through
the REST collection path, which saves alert-rule duplicates, names a blocking rule, and follows
converted leads to their contact. Rows a failed job never processed are retried later.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from crmsync.domain.outcomes import Action, Resolution
from crmsync.domain.writes import RecordWrite, WriteOutcome
from crmsync.errors import ApiProblem, ConnectorError, classify
from crmsync.providers.salesforce import mapping
from crmsync.providers.salesforce.converted import CONVERTED, is_contact

if TYPE_CHECKING:
    from crmsync.providers.salesforce.connector import SalesforceConnector

MAX_UPLOAD_BYTES = 100_000_000
"""Bulk API 2.0 takes at most 100 MB of CSV per job upload."""
RESEND = (CONVERTED, "DUPLICATES_DETECTED")
TERMINAL = ("JobComplete", "Failed", "Aborted")
FIRST_POLL, MAX_POLL = 0.5, 10.0


def csv_cell(value: Any) -> str:
    if value is None:
        return "#N/A"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_error(text: str) -> tuple[str, str]:
    """``sf__Error`` is ``CODE:message:fields --``."""
    code, _, rest = text.removesuffix(" --").partition(":")
    message = rest.rpartition(":")[0] if ":" in rest else rest
    return code, message


class BulkUpsert:
    def __init__(
        self, connector: SalesforceConnector, heartbeat: Callable[[], Awaitable[None]]
    ) -> None:
        self.connector = connector
        self.client = connector.client
        self.id_field = connector.id_field
        self.heartbeat = heartbeat

    async def run(self, writes: Sequence[RecordWrite]) -> list[WriteOutcome]:
        outcomes = await self.connector.converted.update_contacts(
            [(w, str(w.crm_id)) for w in writes if is_contact(w.crm_id)]
        )
        resend: list[RecordWrite] = []
        uploads = self._uploads([w for w in writes if not is_contact(w.crm_id)])
        while uploads:
            chunk, data = uploads.pop(0)
            done, again = await self._job(chunk, data)
            del data
            outcomes.update(done)
            resend.extend(again)
        for start in range(0, len(resend), self.connector.spec.batch_size):
            chunk = resend[start : start + self.connector.spec.batch_size]
            await self.heartbeat()
            outcomes.update({o.local_id: o for o in await self.connector.push(chunk)})
        unreported = Resolution(Action.RETRY, "the bulk job did not report this record")
        return [
            outcomes.get(w.local_id) or WriteOutcome(w.local_id, resolution=unreported)
            for w in writes
        ]

    def _uploads(self, writes: list[RecordWrite]) -> list[tuple[list[RecordWrite], bytes]]:
        """The writes as CSV, split so that no upload passes the 100 MB limit. Built before
        any job opens, so that while the jobs run only their bytes are held, not a dict and
        a line per person as well."""
        records = [mapping.lead_values(w, self.id_field) for w in writes]
        columns = list(dict.fromkeys(name for record in records for name in record))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        header = out.getvalue().encode()
        uploads: list[tuple[list[RecordWrite], bytes]] = []
        lines: list[bytes] = []
        chunk: list[RecordWrite] = []
        size = len(header)
        for write, record in zip(writes, records, strict=True):
            out.seek(0)
            out.truncate()
            writer.writerow([csv_cell(record[c]) if c in record else "" for c in columns])
            line = out.getvalue().encode()
            if chunk and size + len(line) > MAX_UPLOAD_BYTES:
                uploads.append((chunk, header + b"".join(lines)))
                lines, chunk, size = [], [], len(header)
            lines.append(line)
            chunk.append(write)
            size += len(line)
        if chunk:
            uploads.append((chunk, header + b"".join(lines)))
        return uploads

    async def _job(
        self, writes: list[RecordWrite], data: bytes
    ) -> tuple[dict[str, WriteOutcome], list[RecordWrite]]:
        job = await self.client.create_upsert_job("Lead", self.id_field)
        job_id = str(job["id"])
        try:
            await self.client.upload_job_data(job_id, data)
            await self.heartbeat()
            await self.client.set_job_state(job_id, "UploadComplete")
        except ConnectorError:
            with suppress(ConnectorError):
                await self.client.set_job_state(job_id, "Aborted")
            raise
        info = await self._wait(job_id)
        return await self._results(job_id, info, {w.local_id: w for w in writes})

    async def _wait(self, job_id: str) -> dict[str, Any]:
        delay = FIRST_POLL
        while True:
            await self.heartbeat()
            await asyncio.sleep(delay)
            info = await self.client.job_info(job_id)
            if info.get("state") in TERMINAL:
                return info
            delay = min(delay * 2, MAX_POLL)

    async def _rows(self, job_id: str, kind: str) -> list[dict[str, str]]:
        text = await self.client.job_results(job_id, kind)
        return list(csv.DictReader(io.StringIO(text)))

    async def _results(
        self, job_id: str, info: dict[str, Any], writes: dict[str, RecordWrite]
    ) -> tuple[dict[str, WriteOutcome], list[RecordWrite]]:
        outcomes: dict[str, WriteOutcome] = {}
        resend: list[RecordWrite] = []
        for row in await self._rows(job_id, "successfulResults"):
            person_id = row.get(self.id_field, "")
            if person_id in writes:
                created = row.get("sf__Created") == "true"
                outcomes[person_id] = WriteOutcome(
                    person_id,
                    created=created,
                    crm_id=row["sf__Id"],
                    response_summary={"id": row["sf__Id"], "created": created, "job": job_id},
                )
        for row in await self._rows(job_id, "failedResults"):
            person_id = row.get(self.id_field, "")
            if person_id not in writes:
                continue
            code, message = parse_error(row.get("sf__Error", ""))
            if code in RESEND:
                resend.append(writes[person_id])
                continue
            problem = ApiProblem(400, code or None, message)
            resolution = classify(problem, self.connector.ctx.spec.error_rules)
            outcomes[person_id] = WriteOutcome(
                person_id, resolution=resolution, response_summary={"error": resolution.reason}
            )
        if info.get("state") != "JobComplete":
            why = info.get("errorMessage") or "no reason given"
            resolution = Resolution(
                Action.RETRY, f"the bulk job ended {info.get('state')} before this record: {why}"
            )
            for row in await self._rows(job_id, "unprocessedrecords"):
                person_id = row.get(self.id_field, "")
                if person_id in writes and person_id not in outcomes:
                    outcomes[person_id] = WriteOutcome(person_id, resolution=resolution)
        return outcomes, resend
