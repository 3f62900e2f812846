"""Bulk API 2.0 ingest routes under ``/services/data/vXX.X/jobs/ingest``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from crmsync.emulation import EmulatedRoute
from crmsync.providers.salesforce.emulator.common import DATA, EmulatorDep, UserDep, json_object
from crmsync.providers.salesforce.emulator.errors import SalesforceError

INGEST = f"{DATA}/jobs/ingest"
router = APIRouter(route_class=EmulatedRoute, tags=["bulk"])


@router.post(INGEST)
async def create_job(
    version: str, request: Request, emulator: EmulatorDep, user: UserDep
) -> JSONResponse:
    job = emulator.jobs.create(await json_object(request), user, version)
    return JSONResponse(job.info())


@router.put(f"{INGEST}/{{job_id}}/batches", status_code=201, response_model=None)
async def upload(job_id: str, request: Request, emulator: EmulatorDep) -> Response:
    if not request.headers.get("content-type", "").startswith("text/csv"):
        raise SalesforceError(
            400, "INVALIDJOB", "InvalidJob : the Content-Type of job data must be text/csv"
        )
    emulator.jobs.upload(job_id, await request.body())
    return Response(status_code=201)


@router.patch(f"{INGEST}/{{job_id}}")
async def change_state(
    job_id: str, request: Request, emulator: EmulatorDep, user: UserDep
) -> JSONResponse:
    body = await json_object(request)
    return JSONResponse(emulator.jobs.change_state(job_id, str(body.get("state")), user).info())


@router.get(f"{INGEST}/{{job_id}}")
def job_info(job_id: str, emulator: EmulatorDep) -> JSONResponse:
    return JSONResponse(emulator.jobs.poll(job_id).info())


@router.get(f"{INGEST}/{{job_id}}/{{kind}}/")
def results(job_id: str, kind: str, emulator: EmulatorDep) -> PlainTextResponse:
    if kind not in ("successfulResults", "failedResults", "unprocessedrecords"):
        raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
    return PlainTextResponse(emulator.jobs.results(job_id, kind), media_type="text/csv")
