"""Sellers' notices of cancellations and explanations (Form 04/SS-HĐĐT): POST /v1/notices and
GET /v1/notices/{notice_id}. HTTP only: the use case is einvoice/notices.py's; the rules are in
docs/lifecycle.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.auth import Principal, allow
from api.deps import ClientsDep
from api.invoices import read_json
from api.openapi import WITH_BODY, answer, json_body, operation
from api.schemas import NoticeAnswer, NoticeDocument
from lookup.access import AUDIT_NOTICE, is_officer

router = APIRouter(tags=["notices"])

SenderDep = Annotated[Principal, Depends(allow("business", kind="submit"))]
ReaderDep = Annotated[Principal, Depends(allow("business", "officer", kind="lookup"))]


@router.post(
    "/v1/notices",
    status_code=201,
    **operation(
        "Send a signed notice cancelling or explaining invoices (Form 04/SS-HĐĐT)",
        body=json_body("NoticeRequest", "The notice and the seller's detached JWS over it."),
        answers={
            201: answer("Received: each item accepted or rejected", NoticeAnswer),
            200: answer("The same notice again: its first answer", NoticeAnswer),
        },
        errors=WITH_BODY,
    ),
)
async def send_notice(request: Request, principal: SenderDep, clients: ClientsDep) -> Response:
    """A seller's signed notice: 201 with each item's result; the same notice sent again gets
    the same answer with 200."""
    assert principal.tax_code is not None  # a business client always has one
    body = await read_json(request)
    answer = await clients.notices.receive(
        tax_code=principal.tax_code,
        client_id=principal.client_id,
        body=body,
        now=dt.datetime.now(dt.UTC),
    )
    return Response(answer.body, status_code=answer.status, media_type="application/json")


@router.get(
    "/v1/notices/{notice_id}",
    **operation(
        "A notice as received, with its answer",
        answers={200: answer("The notice", NoticeDocument)},
        errors=(404,),
    ),
)
async def notice(notice_id: str, principal: ReaderDep, clients: ClientsDep) -> dict[str, Any]:
    """A notice as received and its answer: for the seller that sent it, and officers
    (audited); anyone else gets the same 404 as for an unknown id."""
    if is_officer(principal):
        await clients.registry.record_officer_read(principal.client_id, AUDIT_NOTICE, notice_id)
        return await clients.notices.notice(notice_id, seller_tax_code=None)
    return await clients.notices.notice(notice_id, seller_tax_code=principal.tax_code or "")
