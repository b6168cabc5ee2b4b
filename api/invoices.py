"""Real-time authentication: POST /v1/invoices, and the authority's public keys.

The answer comes once the invoice is durably stored (the writes reached LOCAL_QUORUM). A retry of
the same invoice gets the original answer with 200; another invoice under a used number gets 409
naming the original. See storage/cassandra/invoices.py for why a crash at any point is safe.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import Counter

from api.auth import Principal, allow
from api.deps import ClientsDep
from einvoice.errors import (
    ErrorDetail,
    Forbidden,
    InvalidRequest,
    MalformedJson,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from einvoice.submission import submit_invoice
from lookup.cache import write_through
from lookup.documents import invoice_document, utc_timestamp
from storage.cassandra.invoices import Claim

router = APIRouter(tags=["invoices"])

MAX_BODY_BYTES = 2 * 1024 * 1024  # the national format's message limit
SUBMISSIONS = Counter("einvoice_submissions_total", "Real-time submissions", ["outcome"])

SubmitterDep = Annotated[Principal, Depends(allow("business", kind="submit"))]


@router.get("/.well-known/jwks.json", tags=["public"])
async def jwks(clients: ClientsDep) -> Response:
    return Response(
        orjson.dumps(clients.authority.keyring.jwks()),
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.post("/v1/invoices", status_code=201)
async def submit(request: Request, principal: SubmitterDep, clients: ClientsDep) -> Response:
    submission = await _read_json(request)
    raw_invoice, signature = _split_submission(submission)
    seller_tax_code = _seller_tax_code(raw_invoice)
    if seller_tax_code is not None and seller_tax_code != principal.tax_code:
        raise Forbidden(
            "a business submits only invoices it sells",
            code="SELLER_MISMATCH",
            field="/invoice/seller/tax_code",
        )
    assert principal.tax_code is not None  # a business client always has one
    seller = await clients.registry_cache.seller(principal.tax_code)
    if seller is None or not seller.active:
        raise Forbidden(
            "the taxpayer is not active (suspended, closed or unknown)", code="TAXPAYER_NOT_ACTIVE"
        )
    result = await submit_invoice(
        raw_invoice,
        signature,
        seller=seller,
        authority=clients.authority,
        store=clients.invoices,
        now=dt.datetime.now(dt.UTC),
        source="realtime",
    )
    SUBMISSIONS.labels(result.kind).inc()
    if result.kind == "rejected":
        raise InvalidRequest("the invoice is not valid", details=list(result.errors))
    assert result.claim is not None
    assert result.invoice is not None
    if result.kind == "conflict":
        return _conflict(result.claim)
    claim, invoice = result.claim, result.invoice
    if result.kind == "created":  # a repeat was cached when it was created
        document = invoice_document(
            code=claim.code,
            invoice=dict(invoice),
            invoice_hash=claim.invoice_hash,
            status="authenticated",
            authenticated_at=claim.authenticated_at,
            token=claim.token,
            seller_signature=signature,
        )
        await write_through(clients.redis, claim.code, document)
    return _answer(claim, invoice["symbol"], 201 if result.kind == "created" else 200)


async def _read_json(request: Request) -> Any:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("send the submission as application/json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"at most {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"at most {MAX_BODY_BYTES} bytes")
    try:
        # orjson refuses invalid UTF-8, lone surrogates and nesting deeper than 1,024 levels.
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedJson(f"the body is not valid JSON: {error}") from error


def _split_submission(submission: Any) -> tuple[Any, Any]:
    if not isinstance(submission, dict):
        raise InvalidRequest(
            "the body is an object {invoice, signature}", code="INVALID_TYPE", field=""
        )
    unknown = sorted(set(submission) - {"invoice", "signature"})
    if unknown:
        raise InvalidRequest(
            "unknown fields",
            details=[
                ErrorDetail("UNKNOWN_FIELD", "not part of a submission", f"/{k}") for k in unknown
            ],
        )
    return submission.get("invoice"), submission.get("signature")


def _seller_tax_code(raw_invoice: Any) -> str | None:
    seller = raw_invoice.get("seller") if isinstance(raw_invoice, dict) else None
    tax_code = seller.get("tax_code") if isinstance(seller, dict) else None
    return tax_code if isinstance(tax_code, str) else None


def _answer(claim: Claim, symbol: str, status: int) -> Response:
    body = {
        "code": claim.code,
        "coded": symbol.startswith("C"),
        "authenticated_at": utc_timestamp(claim.authenticated_at),
        "invoice_hash": claim.invoice_hash,
        "token": claim.token,
    }
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _conflict(existing: Claim) -> Response:
    body = {
        "errors": [
            {
                "code": "INVOICE_NUMBER_USED",
                "field": "/invoice/number",
                "message": "another invoice was authenticated under this seller, template, symbol "
                "and number",
            }
        ],
        "existing": {"code": existing.code, "invoice_hash": existing.invoice_hash},
    }
    return Response(orjson.dumps(body), status_code=409, media_type="application/json")
