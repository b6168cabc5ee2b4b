"""The lookup routes: by code and by business key for the parties and officers, a seller's
listing, and the public check of the fields printed on an invoice (or of its token).

HTTP only: parameters in, the service's answer out, as JSON, an HDon's signed XML or the invoice
for people (api/invoice_view.py), by the Accept header (api/negotiation.py). The use case, access
policy and audit are lookup/service.py's.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, allow
from api.client_address import client_address
from api.deps import LookupDep
from api.invoice_view import invoice_page
from api.lifespan import Clients
from api.negotiation import representation
from api.openapi import WITH_BODY, answer, operation
from api.schemas import BuyerListing, InvoiceDocument, SellerListing, VerifyAnswer
from lookup import public_check
from lookup.cache import CachedDocument
from lookup.page_tokens import MAX_TOKEN_LENGTH
from lookup.service import LookupService

router = APIRouter(tags=["lookup"])

ReaderDep = Annotated[Principal, Depends(allow("business", "officer", kind="lookup"))]


def _document_answer() -> dict[str, Any]:
    documented = answer("The invoice as stored, with its status", InvoiceDocument)
    signed = {"type": "string", "description": "An HDon's signed XML, as answered to the seller."}
    view = {
        "type": "string",
        "description": "The invoice for people, printable on A4, with a QR code of its public "
        "check (`Accept: text/html`, as browsers send it).",
    }
    documented["content"] = {"application/xml": {"schema": signed}, "text/html": {"schema": view}}
    return documented


_READ_ERRORS = (404, 406, 422)


@router.get(
    "/v1/invoices/{code}",
    **operation(
        "An invoice by its authority code",
        answers={200: _document_answer()},
        errors=_READ_ERRORS,
    ),
)
async def invoice_by_code(
    code: str, request: Request, principal: ReaderDep, lookups: LookupDep
) -> Response:
    """For its seller, its buyer (by tax code) and officers (audited); anyone else gets the same
    404 as for an unknown code. `Accept: application/xml` gives an HDon's signed XML (406 for an
    invoice submitted as JSON); `Accept: text/html` the invoice for people, printable on A4, with
    a QR code of its public check. JSON is the default and wins a tie; errors are JSON."""
    document = await lookups.invoice_by_code(principal, code)
    return await _answer(document, request, lookups)


@router.get(
    "/v1/invoices",
    **operation(
        "An invoice by its business key (seller, template, symbol, number)",
        answers={200: _document_answer()},
        errors=_READ_ERRORS,
    ),
)
async def invoice_by_key(
    request: Request,
    principal: ReaderDep,
    lookups: LookupDep,
    seller_tax_code: Annotated[str, Query(max_length=14)],
    template: Annotated[str, Query(max_length=1)],
    symbol: Annotated[str, Query(max_length=6)],
    number: Annotated[int, Query(ge=1, le=99_999_999)],
) -> Response:
    """As by code: the same readers, the same answers."""
    document = await lookups.invoice_by_key(principal, seller_tax_code, template, symbol, number)
    return await _answer(document, request, lookups)


class PrintedFields(BaseModel):
    # The body of POST /v1/verify (its name is the OpenAPI schema's): printed fields, or a token.

    model_config = ConfigDict(extra="forbid")

    seller_tax_code: str | None = Field(default=None, max_length=14)
    template: str | None = Field(default=None, max_length=1)
    symbol: str | None = Field(default=None, max_length=6)
    number: int | None = Field(default=None, ge=1, le=99_999_999)
    total_payable: str | None = Field(default=None, max_length=30)
    token: str | None = Field(default=None, max_length=4000)


@router.post(
    "/v1/verify",
    tags=["public"],
    **operation(
        "Check an invoice's printed fields, or its token (public)",
        authenticated=False,
        answers={200: answer("Whether an authentic, standing invoice matches", VerifyAnswer)},
        errors=(*WITH_BODY, 429, 503),
    ),
)
async def verify(body: PrintedFields, request: Request, lookups: LookupDep) -> dict[str, Any]:
    """Public: is this invoice authentic? Never reveals the buyer."""
    fields = public_check.PrintedFields(**body.model_dump())
    address = client_address(request)
    answer = await lookups.verify(fields, caller_address=address)
    return answer.as_json()


@router.get(
    "/v1/sellers/{tax_code}/invoices",
    **operation(
        "A seller's invoices, newest first, a page at a time",
        answers={200: answer("One page", SellerListing)},
        errors=(404, 422),
    ),
)
async def seller_invoices(
    tax_code: str,
    principal: ReaderDep,
    lookups: LookupDep,
    date_from: Annotated[dt.date, Query(alias="from")],
    date_to: Annotated[dt.date, Query(alias="to")],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    page_token: Annotated[str | None, Query(max_length=MAX_TOKEN_LENGTH)] = None,
) -> dict[str, Any]:
    """A seller's invoices issued in [from, to] (at most 366 days), newest first, a page at a
    time: follow `next_page_token` until it is null (a page may be short, even empty)."""
    page = await lookups.seller_invoices(
        principal,
        tax_code,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        page_token=page_token,
    )
    return {"invoices": page.invoices, "next_page_token": page.next_page_token}


@router.get(
    "/v1/buyers/{tax_code}/invoices",
    **operation(
        "The invoices a buyer received, newest first, a page at a time",
        answers={200: answer("One page", BuyerListing)},
        errors=(404, 422),
    ),
)
async def buyer_invoices(
    tax_code: str,
    principal: ReaderDep,
    lookups: LookupDep,
    date_from: Annotated[dt.date, Query(alias="from")],
    date_to: Annotated[dt.date, Query(alias="to")],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    page_token: Annotated[str | None, Query(max_length=MAX_TOKEN_LENGTH)] = None,
) -> dict[str, Any]:
    """The invoices a buyer received, issued in [from, to]: for officers (audited) and the
    buyer's own business clients, with the seller listing's paging and bounds."""
    page = await lookups.buyer_invoices(
        principal,
        tax_code,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        page_token=page_token,
    )
    return {"invoices": page.invoices, "next_page_token": page.next_page_token}


async def _answer(document: CachedDocument, request: Request, lookups: LookupService) -> Response:
    """JSON; the signed XML when the caller's Accept prefers XML (an HDon invoice only); the
    readable view when it prefers HTML (api/negotiation.py)."""
    chosen = representation(request.headers.get("accept", ""))
    if chosen == "xml":
        return Response(await lookups.signed_xml(document), media_type="application/xml")
    if chosen == "html":
        clients: Clients = request.state.clients
        return await invoice_page(document.document, clients.settings.lookup_page_url)
    return _json(document)


def _json(document: CachedDocument) -> Response:
    # The cached bytes as they are: FastAPI's own encoder would walk every field of the invoice
    # again, which cost more than the rest of a cached lookup.
    return Response(document.json, media_type="application/json")
