"""Looking invoices up: by code and by business key for the parties and officers, and a public
check of the fields printed on an invoice (or of a token) for anyone who received one.

A business sees invoices where it is the seller or the buyer; an officer sees every invoice and
each read is audited; to anyone else an invoice does not exist (404, never 403).
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, allow
from api.deps import ClientsDep
from api.lifespan import Clients
from einvoice.errors import ErrorDetail, InvalidRequest, NotFound
from lookup.cache import CachedDocument, read_through
from lookup.documents import document_from_stored

router = APIRouter(tags=["lookup"])

ReaderDep = Annotated[Principal, Depends(allow("business", "officer", kind="lookup"))]

LOOKUPS = Counter("einvoice_lookups_total", "Lookups", ["kind", "result"])
LOOKUP_SECONDS = Histogram(
    "einvoice_lookup_seconds",
    "Lookup latency by cache outcome",
    ["cache"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5),
)


# Label children bound once: `labels()` on every lookup was a measurable share of a cache hit.
_OUTCOMES = ("hit", "miss", "negative_hit", "bypass")
_SECONDS = {outcome: LOOKUP_SECONDS.labels(outcome) for outcome in _OUTCOMES}
_BY_CODE = {outcome: LOOKUPS.labels("code", outcome) for outcome in _OUTCOMES}


async def find_by_code(clients: Clients, code: str) -> CachedDocument | None:
    async def load() -> CachedDocument | None:
        stored = await clients.invoices.by_code(code)
        return CachedDocument.of(document_from_stored(stored)) if stored else None

    started = time.perf_counter()
    document, outcome = await read_through(clients.redis, code, load)
    _SECONDS[outcome].observe(time.perf_counter() - started)
    _BY_CODE[outcome].inc()
    return document


async def find_by_key(
    clients: Clients, seller_tax_code: str, template: str, symbol: str, number: int
) -> CachedDocument | None:
    claim = await clients.invoices.claim_of(seller_tax_code, template, symbol, number)
    return await find_by_code(clients, claim.code) if claim else None


async def _readable(
    clients: Clients, principal: Principal, document: CachedDocument | None, subject: str
) -> CachedDocument:
    if document is not None:
        if principal.role == "officer":
            await clients.registry.record_officer_read(principal.client_id, "invoice", subject)
            return document
        if principal.tax_code in (document.seller, document.buyer):
            return document
    raise NotFound("no such invoice", code="INVOICE_NOT_FOUND")


@router.get("/v1/invoices/{code}")
async def invoice_by_code(code: str, principal: ReaderDep, clients: ClientsDep) -> Response:
    document = await find_by_code(clients, code) if _is_code(code) else None
    return _json(await _readable(clients, principal, document, code))


@router.get("/v1/invoices")
async def invoice_by_key(
    principal: ReaderDep,
    clients: ClientsDep,
    seller_tax_code: Annotated[str, Query(max_length=14)],
    template: Annotated[str, Query(max_length=1)],
    symbol: Annotated[str, Query(max_length=6)],
    number: Annotated[int, Query(ge=1, le=99_999_999)],
) -> Response:
    document = await find_by_key(clients, seller_tax_code, template, symbol, number)
    subject = f"{seller_tax_code}/{template}/{symbol}/{number}"
    return _json(await _readable(clients, principal, document, subject))


class PrintedFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seller_tax_code: str | None = Field(default=None, max_length=14)
    template: str | None = Field(default=None, max_length=1)
    symbol: str | None = Field(default=None, max_length=6)
    number: int | None = Field(default=None, ge=1, le=99_999_999)
    total_payable: str | None = Field(default=None, max_length=30)
    token: str | None = Field(default=None, max_length=4000)


@router.post("/v1/verify", tags=["public"])
async def verify(body: PrintedFields, request: Request, clients: ClientsDep) -> dict[str, Any]:
    """Public: is this invoice authentic? Never reveals the buyer."""
    public_limit(request, clients)
    return await check_printed_fields(clients, body)


async def check_printed_fields(clients: Clients, body: PrintedFields) -> dict[str, Any]:
    if body.token:
        claims = clients.authority.keyring.verify_token(body.token)
        cached = await find_by_code(clients, str(claims["code"])) if claims else None
        document = cached.document if cached else None
        authentic = (
            claims is not None
            and document is not None
            and document["invoice_hash"] == claims.get("invoice_hash")
        )
        return _public_answer(document if authentic else None)
    missing = [
        name
        for name in ("seller_tax_code", "template", "symbol", "number", "total_payable")
        if getattr(body, name) in (None, "")
    ]
    if missing:
        raise InvalidRequest(
            "give the printed fields, or a token",
            details=[_required(name) for name in missing],
        )
    cached = await find_by_key(
        clients,
        str(body.seller_tax_code),
        str(body.template),
        str(body.symbol),
        int(body.number or 0),
    )
    document = cached.document if cached else None
    if document is not None and not _same_amount(
        document["invoice"]["totals"]["total_payable"], body.total_payable
    ):
        document = None
    LOOKUPS.labels("verify", "valid" if document else "invalid").inc()
    return _public_answer(document)


def _public_answer(document: dict[str, Any] | None) -> dict[str, Any]:
    if document is None:
        return {"valid": False}
    return {
        "valid": True,
        "code": document["code"],
        "issued_date": document["invoice"]["issued_date"],
        "status": document["status"],
    }


def public_limit(request: Request, clients: Clients) -> None:
    address = request.client.host if request.client else "unknown"
    clients.rate_limiter.take(uuid.uuid5(uuid.NAMESPACE_URL, address), "public", "verify")


def _same_amount(stored: str, given: str | None) -> bool:
    try:
        return given is not None and Decimal(stored) == Decimal(given.replace(",", "").strip())
    except InvalidOperation:
        return False


def _required(name: str) -> ErrorDetail:
    return ErrorDetail("FIELD_REQUIRED", f"{name} is required", f"/{name}")


def _json(document: CachedDocument) -> Response:
    # The cached bytes as they are: FastAPI's own encoder would walk every field of the invoice
    # again, which cost more than the rest of a cached lookup.
    return Response(document.json, media_type="application/json")


def _is_code(code: str) -> bool:
    return len(code) == 34 and all(c in "0123456789ABCDEF" for c in code)


@router.get("/v1/sellers/{tax_code}/invoices")
async def seller_invoices(
    tax_code: str,
    principal: ReaderDep,
    clients: ClientsDep,
    date_from: Annotated[dt.date, Query(alias="from")],
    date_to: Annotated[dt.date, Query(alias="to")],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    page_token: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """A seller's invoices issued in [from, to], newest first, a page at a time."""
    if principal.role != "officer" and principal.tax_code != tax_code:
        raise NotFound("no such seller", code="SELLER_NOT_FOUND")
    if date_to < date_from:
        raise InvalidRequest("`to` is before `from`", code="INVALID_FIELD", field="/to")
    seller = await clients.registry_cache.seller(tax_code)
    if seller is None:
        raise NotFound("no such seller", code="SELLER_NOT_FOUND")
    if principal.role == "officer":
        subject = f"{tax_code} {date_from}..{date_to} {page_token or ''}".strip()
        await clients.registry.record_officer_read(principal.client_id, "seller_invoices", subject)
    month, before = _decode_page_token(page_token) if page_token else (_month(date_to), None)
    if before is None:
        before = (date_to + dt.timedelta(days=1), "")
    items: list[dict[str, Any]] = []
    last_month = _month(date_from)
    while month >= last_month and len(items) < limit:
        rows = await clients.invoices.seller_month(
            tax_code, month, seller.month_buckets, before, limit - len(items)
        )
        for row in rows:
            issued: dt.date = row["issued_date"]
            if issued < date_from:
                break
            items.append(_listing_item(row, issued))
        if len(items) < limit:
            month = _previous_month(month)
            before = (date_to + dt.timedelta(days=1), "")
    token = None
    if len(items) == limit:
        last = items[-1]
        token = _encode_page_token(_month(dt.date.fromisoformat(last["issued_date"])), last)
    return {"invoices": items, "next_page_token": token}


def _listing_item(row: dict[str, Any], issued: dt.date) -> dict[str, Any]:
    return {
        "code": row["code"],
        "issued_date": issued.isoformat(),
        "template": row["template"],
        "symbol": row["symbol"],
        "number": row["number"],
        "buyer_tax_code": row["buyer_tax_code"],
        "total_payable": str(row["total_payable"]),
        "status": row["status"],
    }


def _month(day: dt.date) -> int:
    return day.year * 100 + day.month


def _previous_month(month: int) -> int:
    year, number = divmod(month, 100)
    return (year - 1) * 100 + 12 if number == 1 else month - 1


def _encode_page_token(month: int, last: dict[str, Any]) -> str:
    raw = orjson.dumps({"m": month, "d": last["issued_date"], "c": last["code"]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(token: str) -> tuple[int, tuple[dt.date, str]]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["m"]), (dt.date.fromisoformat(data["d"]), str(data["c"]))
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as error:
        raise InvalidRequest(
            "not a page token of this listing", code="INVALID_FIELD", field="/page_token"
        ) from error
