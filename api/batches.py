"""Batch submission: POST /v1/batches (NDJSON), GET its status and its per-line results.

A batch is stored durably in Cassandra before the 202, then queued in Redis for the workers. A
line is `{"invoice", "signature"}` or `{"xml": "<HDon ...>"}` (an HDon in the national format). A
problem with the batch as a whole (a line that is not JSON, an HDon that is not well-formed, too
many lines, another seller's invoice) refuses it up front with the line; a line that breaks a
business rule is a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
import redis.asyncio as redis
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from api.auth import Principal, allow
from api.body import read_body
from api.deps import ClientsDep
from api.invoices import MAX_BODY_BYTES
from api.lifespan import Clients
from api.openapi import WITH_BODY, answer, operation
from api.schemas import BatchAccepted, BatchResultLine, BatchStatus
from einvoice.error_codes import ErrorCode
from einvoice.errors import (
    ErrorDetail,
    Forbidden,
    InvalidRequest,
    MalformedJson,
    NotFound,
    RateLimited,
    UnsupportedMediaType,
)
from einvoice.hdon.fields import SELLER_PATH, seller_tax_code
from einvoice.hdon.parse import MalformedXml, parse_hdon
from einvoice.request_context import request_id as current_request_id
from einvoice.submission import NOT_ACTIVE, NOT_ACTIVE_MESSAGE
from lookup.access import is_officer
from signing import strict_json
from storage.cassandra.batches import BatchRow

router = APIRouter(prefix="/v1/batches", tags=["batches"])

SubmitterDep = Annotated[Principal, Depends(allow("business", kind="batch"))]
ReaderDep = Annotated[Principal, Depends(allow("business", "officer", kind="lookup"))]


_BATCH_BODY = {
    "required": True,
    "description": 'NDJSON: one submission a line, `{"invoice", "signature"}` as for '
    'POST /v1/invoices, or `{"xml": "<HDon ...>"}`; all of the key\'s seller. Limits: '
    "docs/batches.md.",
    "content": {
        "application/x-ndjson": {
            "schema": {"type": "string", "description": "Lines of Submission objects."}
        }
    },
}


@router.post(
    "",
    status_code=202,
    **operation(
        "Submit invoices in bulk",
        body=_BATCH_BODY,
        answers={202: answer("Accepted and queued; poll its status", BatchAccepted)},
        errors=WITH_BODY,
    ),
)
async def submit_batch(request: Request, principal: SubmitterDep, clients: ClientsDep) -> Response:
    """Role `business`. Every line is checked for shape and seller before the 202, so a bad line
    refuses the whole batch (its pointer starts with the line's index); rules and signatures are
    checked by the workers, each line's result then in GET .../results. 429 when the backlog is
    full."""
    settings = clients.settings
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-ndjson":
        raise UnsupportedMediaType("send a batch as application/x-ndjson, one submission a line")
    assert principal.tax_code is not None  # a business client always acts for one (a constraint)
    # Refused here as real time refuses it (einvoice/submission.py), before the body is read,
    # rather than accepted and every line rejected by the worker.
    seller = await clients.registry_cache.seller(principal.tax_code)
    if seller is None or not seller.active:
        raise Forbidden(NOT_ACTIVE_MESSAGE, code=NOT_ACTIVE)
    backlog = await clients.batch_queue.backlog()
    if backlog >= settings.batch_backlog_limit:
        raise RateLimited(
            f"{backlog} batches are waiting to be processed; retry later", retry_after_s=30
        )
    limit = settings.batch_max_bytes
    body = await read_body(request, limit, f"a batch is at most {limit} bytes")
    # Off the event loop: parsing and checking 10,000 lines takes about a quarter of a second
    # (docs/signing.md, "Strict JSON"), which every other request of this process would wait for.
    lines = await asyncio.to_thread(
        _checked_lines, body, principal.tax_code, settings.batch_max_lines
    )
    batch_id = uuid.uuid1()
    # The batch keeps this request's id: its status, its results and the worker's log lines for
    # it carry the id the business was answered (api/observe.py sets it).
    request_id = current_request_id()
    await clients.batches.save(
        batch_id,
        principal.tax_code,
        str(principal.client_id),
        lines,
        dt.datetime.now(dt.UTC),
        request_id,
    )
    # Stored already: if Redis cannot take it now, a worker's recovery scan queues it later.
    with contextlib.suppress(redis.RedisError):
        await clients.batch_queue.enqueue(batch_id)
    return Response(
        orjson.dumps({"batch_id": str(batch_id), "count": len(lines), "request_id": request_id}),
        status_code=202,
        media_type="application/json",
        headers={"Location": f"/v1/batches/{batch_id}"},
    )


@router.get(
    "/{batch_id}",
    **operation(
        "A batch's progress", answers={200: answer("Counts so far", BatchStatus)}, errors=(404,)
    ),
)
async def batch_status(batch_id: str, principal: ReaderDep, clients: ClientsDep) -> dict[str, Any]:
    """For the submitting business and officers (audited); 404 for anyone else."""
    batch = await _readable_batch(batch_id, principal, clients, "")
    # The worker records the counts after each step it saves (the final ones when done).
    counts = (batch.authenticated or 0, batch.rejected or 0, batch.duplicates or 0)
    return {
        "batch_id": str(batch.batch_id),
        "status": batch.status,
        "count": batch.line_count,
        "authenticated": counts[0],
        "rejected": counts[1],
        "duplicates": counts[2],
        "request_id": batch.request_id,
    }


@router.get(
    "/{batch_id}/results",
    **operation(
        "A batch's results, one line per input line",
        answers={
            200: answer(
                "NDJSON, one BatchResultLine per input line, in order",
                BatchResultLine,
                media_type="application/x-ndjson",
            )
        },
        errors=(404,),
    ),
)
async def batch_results(
    batch_id: str, principal: ReaderDep, clients: ClientsDep
) -> StreamingResponse:
    """Lines decided so far (all of them once the batch is `completed`)."""
    batch = await _readable_batch(batch_id, principal, clients, "/results")

    async def lines() -> AsyncIterator[bytes]:
        next_line = 0
        while True:
            page = await clients.batches.results(batch.batch_id, next_line, 1000)
            for result in page:
                item: dict[str, Any] = {"index": result.line, "status": result.status}
                if batch.request_id is not None:
                    item["request_id"] = batch.request_id
                if result.code:
                    item["code"] = result.code
                if result.token:
                    item["token"] = result.token
                if result.errors:
                    item["errors"] = orjson.loads(result.errors)
                yield orjson.dumps(item) + b"\n"
            if len(page) < 1000:
                return
            next_line = page[-1].line + 1

    return StreamingResponse(lines(), media_type="application/x-ndjson")


# The audit kind of an officer's read of a batch (`officer_reads`): stored, so never renamed.
AUDIT_BATCH = "batch"


async def _readable_batch(
    batch_id: str, principal: Principal, clients: Clients, part: str
) -> BatchRow:
    """The batch, if `principal` may see it; an officer's read is recorded before it is
    answered (subject: the batch id and `part` of it read), as for invoices (lookup/service.py)."""
    parsed = _batch_id(batch_id)
    batch = await clients.batches.get(parsed) if parsed is not None else None
    # Only the submitting business and officers may see a batch; to anyone else it does not exist.
    if batch is None or (
        principal.role == "business" and batch.seller_tax_code != principal.tax_code
    ):
        raise NotFound("no such batch", code=ErrorCode.BATCH_NOT_FOUND)
    if is_officer(principal):
        subject = f"{batch.batch_id}{part}"
        await clients.registry.record_officer_read(principal.client_id, AUDIT_BATCH, subject)
    return batch


def _batch_id(text: str) -> uuid.UUID | None:
    """A batch id is a time-based UUID (version 1: what submit_batch issues). Anything else
    names no batch, and is not asked of Cassandra, whose timeuuid column would refuse it."""
    try:
        parsed = uuid.UUID(text) if text.isascii() else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.version == 1 else None


# A line is one submission: the real-time body's limit, checked before the line is parsed.
MAX_LINE_BYTES = MAX_BODY_BYTES


def _checked_lines(body: bytes, tax_code: str, max_lines: int) -> list[bytes]:
    """The batch's non-empty lines, each checked (`_check_line`); raises for the first problem."""
    lines = [line for line in body.split(b"\n") if line.strip()]
    if not lines:
        raise InvalidRequest("the batch has no lines", code=ErrorCode.BATCH_EMPTY)
    if len(lines) > max_lines:
        raise InvalidRequest(
            f"a batch has at most {max_lines} lines", code=ErrorCode.TOO_MANY_LINES
        )
    for index, line in enumerate(lines):
        _check_line(index, line, tax_code)
    return lines


def _check_line(index: int, line: bytes, tax_code: str) -> None:
    field = f"/{index}"
    if len(line) > MAX_LINE_BYTES:
        raise InvalidRequest(
            f"line {index + 1} is larger than a submission may be ({MAX_LINE_BYTES} bytes)",
            code=ErrorCode.LINE_TOO_LARGE,
            field=field,
        )
    try:
        # As a real-time body is read (api/invoices.py): repeated member names are refused too.
        submission = strict_json.loads(line)
    except strict_json.DuplicateMember as error:
        raise InvalidRequest(
            f"line {index + 1}: {error}",
            code=ErrorCode.DUPLICATE_MEMBER,
            field=field + error.pointer,
        ) from error
    except strict_json.NotJson as error:
        raise MalformedJson(f"line {index + 1} is not valid JSON", field=field) from error
    if isinstance(submission, dict) and "xml" in submission:
        _check_xml_line(index, submission, tax_code)
        return
    if not isinstance(submission, dict) or not isinstance(submission.get("invoice"), dict):
        raise InvalidRequest(
            f"line {index + 1} is not an object {{invoice, signature}} or {{xml}}",
            code=ErrorCode.INVALID_LINE,
            field=field,
        )
    _refuse_unknown(index, submission, {"invoice", "signature"}, "not part of a submission")
    seller = submission["invoice"].get("seller")
    seller_code = seller.get("tax_code") if isinstance(seller, dict) else None
    if isinstance(seller_code, str) and seller_code != tax_code:
        raise _other_seller(index, f"{field}/invoice/seller/tax_code")


def _check_xml_line(index: int, submission: dict[str, Any], tax_code: str) -> None:
    """A line `{"xml": "<HDon ...>"}`: one HDon as a JSON string, parsed here as real time parses
    it (einvoice/hdon/parse.py), so a malformed or hostile one refuses the batch up front."""
    field = f"/{index}"
    _refuse_unknown(index, submission, {"xml"}, "an XML line has only `xml`")
    xml = submission["xml"]
    if not isinstance(xml, str):
        raise InvalidRequest(
            f"line {index + 1}: `xml` is the HDon as a string",
            code=ErrorCode.INVALID_TYPE,
            field=f"{field}/xml",
        )
    try:
        document = parse_hdon(xml.encode())
    except MalformedXml as error:
        detail = error.details[0]
        raise MalformedXml(
            f"line {index + 1}: {detail.message}", field=f"{field}/xml{detail.field or ''}"
        ) from error
    seller_code = seller_tax_code(document)
    if seller_code is not None and seller_code != tax_code:
        raise _other_seller(index, f"{field}/xml{SELLER_PATH}")


def _refuse_unknown(index: int, submission: dict[str, Any], known: set[str], message: str) -> None:
    unknown = sorted(set(submission) - known)
    if unknown:
        raise InvalidRequest(
            "unknown fields",
            details=[
                ErrorDetail(
                    ErrorCode.UNKNOWN_FIELD, f"line {index + 1}: {message}", f"/{index}/{k}"
                )
                for k in unknown
            ],
        )


def _other_seller(index: int, field: str) -> Forbidden:
    return Forbidden(
        f"line {index + 1} is another seller's invoice", code=ErrorCode.SELLER_MISMATCH, field=field
    )
