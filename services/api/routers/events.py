"""Departments' progress: events, one at a time or in batches, and filled spreadsheets."""

from __future__ import annotations

from typing import Annotated, Any

import pydantic_core
from fastapi import APIRouter, File, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.errors import FieldError, field_errors
from services.api.deps import PLAN_PARAMETER, AppDep, CallerDep, application_of, caller, read_json
from services.api.schemas import ERRORS, AcceptedBatch, ErrorBody, ImportedSheet
from services.app import MAX_FILE, Invalid

router = APIRouter(prefix="/v1/plans/{plan}", tags=["progress"])


@router.post(
    "/events",
    status_code=201,
    responses={
        200: {"model": AcceptedBatch, "description": "every event was already stored (a retry); original positions"},
        201: {"model": AcceptedBatch, "description": "stored; stream positions"},
        401: {"model": ErrorBody, "description": "no valid token"},
        403: {
            "model": ErrorBody,
            "description": "the only problems: subjects or events the caller's department may not report",
        },
        404: {"model": ErrorBody, "description": "unknown plan; or the only problems: unknown subjects"},
        409: {"model": ErrorBody, "description": "version conflict, or an event_id reused for other content"},
        413: {"model": ErrorBody, "description": "body over 2 MB or more than 1,000 events"},
        422: {
            "model": ErrorBody,
            "description": "invalid events, or problems of several kinds: every problem with its field "
            "and a reason in English and Chinese",
        },
    },
    # what the parameters below would declare: this route resolves them itself (see post_events)
    openapi_extra={"parameters": [PLAN_PARAMETER], "security": [{caller.scheme_name: []}]},
)
async def post_events(request: Request) -> Response:
    """Post one event, a JSON array of events, or `{"events": [...], "expected_versions":
    {subject: n}}`. All or nothing; the department recorded is the token's."""
    # The busiest route takes its plan, application and caller from the request itself, through
    # the same `caller` as every route: FastAPI's solving of three dependencies cost ~50 µs of a
    # single-event POST's ~480 (bench/ingest.py).
    plan: str = request.path_params["plan"]
    who = await caller(request)
    payloads, expected = _batch(await read_json(request))
    accepted = await application_of(request).ingest.submit(who, plan, payloads, expected)
    return Response(pydantic_core.to_json(accepted.body()), accepted.status, media_type="application/json")


MAX_VERSION = 2**53 - 1  # a subject's version is counted in Redis, whose Lua numbers are exact up to here


def _batch(body: Any) -> tuple[list[Any], dict[str, int] | None]:
    """The events of a body and the expected versions it names, if any."""
    if not (isinstance(body, dict) and "events" in body and "type" not in body):
        return (body if isinstance(body, list) else [body]), None
    expected = body.get("expected_versions")
    if expected is not None:
        problems = _version_problems(expected)
        if problems:
            raise Invalid(
                "expected_versions must map subjects to versions (integers 0..2^53-1)",
                "expected_versions 格式有误，须为 编号: 非负整数",
                problems,
            )
    if extra := sorted(set(body) - {"events", "expected_versions"}):
        raise Invalid(
            "the batch holds fields other than events and expected_versions",
            "批量提交只能包含 events 和 expected_versions",
            [FieldError(name[:64], "not a field of a batch", "批量提交不含此字段") for name in extra],
        )
    events = body["events"]
    if not isinstance(events, (list, dict)):
        raise Invalid(
            "events must be a list",
            "events 须为事件列表",
            [FieldError("events", "must be a list of events", "须为事件列表")],
        )
    return (events if isinstance(events, list) else [events]), expected


def _version_problems(expected: object) -> list[FieldError]:
    if not isinstance(expected, dict):
        return [FieldError("expected_versions", "must be an object {subject: version}", "须为 编号: 版本号 的对象")]
    problems = []
    for subject, version in expected.items():
        # a JSON true is a Python int: refuse it by its type, as JSON means it
        if type(version) is not int or not 0 <= version <= MAX_VERSION:
            problems.append(
                FieldError(
                    f"expected_versions.{subject}",
                    f"{version!r} is not a version (an integer 0..{MAX_VERSION})",
                    "版本号须为非负整数",
                )
            )
    return problems


class RetractionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="why, e.g. 数据填报错误，以更正后数据为准")


@router.post(
    "/events/{event_id}/retraction",
    status_code=201,
    responses={
        200: {"description": "the event had been retracted already: that retraction"},
        201: {"description": "retracted: the retraction event and its position"},
        403: {"description": "only the subject's department, or an admin, may retract"},
        404: {"description": "no such event in this plan"},
        422: {"description": "not an event id, a type that is not retracted, or no reason"},
    },
)
async def retract(plan: str, event_id: str, request: Request, app: AppDep, who: CallerDep) -> Response:
    """Retract an acknowledged event (its subject's department, or an admin): from now on every
    view, rollup and alert passes over it (the period shows the report it had replaced, or
    nothing); a view as known before still shows it. The retraction is itself an event of the log."""
    try:
        wanted = RetractionRequest.model_validate(await read_json(request))
    except ValidationError as exc:
        raise Invalid("the retraction is not valid", "撤回申请有误", field_errors(exc)) from None
    done = await app.retractions.retract(who, plan, event_id, wanted.reason)
    return Response(pydantic_core.to_json(done.body()), 201 if done.stored else 200, media_type="application/json")


@router.post(
    "/imports",
    status_code=201,
    responses={
        **ERRORS,
        200: {"model": ImportedSheet, "description": "the file was imported before: nothing new stored"},
        201: {"model": ImportedSheet, "description": "stored"},
        403: {"model": ErrorBody, "description": "the file names another department than the token's"},
        413: {"model": ErrorBody, "description": "file over 2 MB"},
        422: {"model": ErrorBody, "description": "bad rows or cells: every one with a reason in English and Chinese"},
    },
)
async def import_sheet(
    plan: str,
    app: AppDep,
    who: CallerDep,
    file: Annotated[UploadFile, File(description="the filled template, .xlsx or .csv")],
) -> JSONResponse:
    """Upload a filled spreadsheet. Any bad row rejects the whole file with a row-by-row
    report; re-uploading the same file stores nothing new."""
    await app.ingest.plan(plan)
    content = await file.read(MAX_FILE + 1)
    imported = await app.sheets.import_file(who, content, file.filename or "", plan_id=plan)
    return JSONResponse(imported.body(), status_code=imported.accepted.status)
