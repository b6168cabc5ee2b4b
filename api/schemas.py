"""The shapes of the API's answers and raw-read bodies, for the OpenAPI document only.

The routes write their answers with orjson and read the bodies they authenticate as bytes (the hot
path: no model validation, no second parse), so these models never touch a request; they tell
integrators, in /docs and /openapi.json, what goes over the wire (api/openapi.py puts them there).
tests/api/test_openapi_contract.py keeps them honest against real answers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from einvoice.error_codes import ErrorCode


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorItem(_Shape):
    code: str = Field(
        description="A stable code from docs/errors.md.", examples=[ErrorCode.FIELD_REQUIRED.value]
    )
    message: str = Field(description="For people; may change between versions.")
    field: str | None = Field(
        default=None,
        description="A JSON pointer (RFC 6901) into the request, or into an HDon by element path.",
        examples=["/invoice/buyer/tax_code"],
    )


class ExistingInvoice(_Shape):
    code: str
    invoice_hash: str


class OriginalState(_Shape):
    code: str
    status: Literal["replaced", "cancelled"]


class Error(_Shape):
    """Every error answer, 4xx and 5xx: one or more errors, each with a stable code."""

    errors: list[ErrorItem] = Field(min_length=1)
    request_id: str = Field(
        description="The request's id, as answered in X-Request-ID: quote it to the operator."
    )
    existing: ExistingInvoice | None = Field(
        default=None, description="INVOICE_NUMBER_USED: the invoice that holds the number."
    )
    original: OriginalState | None = Field(
        default=None,
        description="ORIGINAL_REPLACED, ORIGINAL_CANCELLED: the original and its status.",
    )


class Submission(_Shape):
    """POST /v1/invoices as JSON: the invoice and the seller's detached JWS over its RFC 8785
    bytes (docs/signing.md, docs/integration.md)."""

    invoice: dict[str, Any]  # the Invoice schema (api/openapi.py)
    signature: str = Field(
        description="A detached compact JWS: base64url(header)..base64url(signature).",
        examples=["eyJhbGciOiJFUzI1NiIsImtpZCI6IjAzMTIzNDU2NzgtMjAyNiJ9..MEUCIQ"],
    )


class SubmissionAnswer(_Shape):
    """201 (authenticated now) or 200 (the original answer to the same invoice)."""

    code: str = Field(description="The authority code (MCCQT), 34 upper-case hex characters.")
    coded: bool = Field(description="Whether the symbol marks a coded invoice (C...).")
    authenticated_at: str = Field(description="ISO 8601, UTC, to the millisecond.")
    invoice_hash: str = Field(description="SHA-256 of the canonical invoice, hex.")
    token: str = Field(description="The authority's JWS (ES256) over the invoice's claims.")
    verify_url: str = Field(
        description="The public lookup page's check of this token, for a QR code on the printed "
        "invoice: `<EINVOICE_PUBLIC_URL>/?token=<token, URL-encoded>`.",
        examples=["https://tracuu.example.vn/?token=eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.e30.c2ln"],
    )


class InvoiceDocument(_Shape):
    """An invoice as stored, with what happened to it since (docs/lifecycle.md)."""

    code: str
    status: Literal["authenticated", "adjusted", "replaced", "cancelled"]
    replaced_by: str | None = None
    adjusted_by: list[str] | None = None
    cancelled_by: str | None = Field(default=None, description="The notice that cancelled it.")
    explained_by: list[str] | None = None
    original_code: str | None = Field(
        default=None, description="A correction: the code of the invoice it corrects."
    )
    format: Literal["json", "xml"]
    authenticated_at: str
    invoice_hash: str
    token: str
    seller_signature: str | None = Field(description="null for an invoice submitted as HDon.")
    invoice: dict[str, Any]  # the Invoice schema (api/openapi.py)


class SellerListingItem(_Shape):
    code: str
    issued_date: str
    template: str
    symbol: str
    number: int
    buyer_tax_code: str | None
    total_payable: str
    status: str


class SellerListing(_Shape):
    invoices: list[SellerListingItem]
    next_page_token: str | None = Field(description="Follow until null; a page may be short.")


class BuyerListingItem(_Shape):
    code: str
    seller_tax_code: str
    template: str
    symbol: str
    number: int
    issued_date: str
    total_payable: str
    status: str


class BuyerListing(_Shape):
    invoices: list[BuyerListingItem]
    next_page_token: str | None


class VerifyAnswer(_Shape):
    """Whether an authentic invoice matches and still stands; never the buyer."""

    valid: bool
    code: str | None = None
    issued_date: str | None = None
    status: str | None = None
    replaced_by: str | None = None


class BatchAccepted(_Shape):
    batch_id: str
    count: int = Field(description="Lines accepted.")
    request_id: str = Field(description="This request's id, kept with the batch.")


class BatchStatus(_Shape):
    batch_id: str
    status: Literal["accepted", "processing", "completed", "failed"]
    count: int
    authenticated: int
    rejected: int
    duplicates: int
    request_id: str | None = Field(
        description="The id of the request that submitted the batch (null before 2026-12)."
    )


class BatchResultLine(_Shape):
    """One line of GET /v1/batches/{batch_id}/results (NDJSON), in the input's order."""

    index: int
    status: Literal["authenticated", "duplicate", "rejected"]
    request_id: str | None = Field(
        default=None, description="The id of the request that submitted the batch."
    )
    code: str | None = None
    token: str | None = None
    errors: list[ErrorItem] | None = None


class NoticeItem(_Shape):
    code: str = Field(description="The invoice's authority code.")
    action: Literal["cancel", "explain"]
    reason: str = Field(min_length=1, max_length=255)


class Notice(_Shape):
    """Form 04/SS-HĐĐT: a seller's cancellations and explanations."""

    seller_tax_code: str
    issued_date: str = Field(description="YYYY-MM-DD, not after today in Vietnam.")
    items: list[NoticeItem] = Field(min_length=1, max_length=500)


class NoticeRequest(_Shape):
    notice: Notice
    signature: str = Field(
        description="The seller's detached JWS over the notice's RFC 8785 bytes."
    )


class NoticeItemResult(_Shape):
    code: str
    status: Literal["accepted", "rejected"]
    errors: list[ErrorItem]


class NoticeAnswer(_Shape):
    notice_id: str
    received_at: str
    items: list[NoticeItemResult]


class NoticeDocument(_Shape):
    notice_id: str
    received_at: str
    notice: Notice
    signature: str
    items: list[NoticeItemResult] | None = Field(
        description="null while the notice is not complete: send it again."
    )


class Jwks(_Shape):
    keys: list[dict[str, Any]]


class Health(_Shape):
    status: Literal["ok"]


class Readiness(_Shape):
    """Whether Cassandra, PostgreSQL and Redis each answered (`checks`: "ok" or what failed)."""

    status: Literal["ready", "unavailable"]
    unavailable: list[str] | None = None
    checks: dict[str, str]


class Taxpayer(_Shape):
    tax_code: str
    name: str
    status: Literal["active", "suspended", "closed"]
    registered_at: str
    month_buckets: int


class SellerKey(_Shape):
    tax_code: str
    kid: str
    algorithm: str
    public_jwk: dict[str, Any]
    valid_from: str
    valid_to: str | None
    revoked_at: str | None
    certificate: str | None = Field(description="PEM, when registered as a certificate.")
    certificate_sha256: str | None


class ApiClient(_Shape):
    id: str
    role: Literal["business", "officer", "admin"]
    tax_code: str | None
    rate_limit_class: str
    created_at: str
    revoked_at: str | None


class IssuedApiClient(ApiClient):
    api_key: str = Field(description="Shown once: the registry keeps only its hash.")


# Every documentation model, by its schema name, for api/openapi.py.
MODELS: tuple[type[BaseModel], ...] = (
    Error,
    Submission,
    SubmissionAnswer,
    InvoiceDocument,
    SellerListing,
    BuyerListing,
    VerifyAnswer,
    BatchAccepted,
    BatchStatus,
    BatchResultLine,
    NoticeRequest,
    NoticeAnswer,
    NoticeDocument,
    Jwks,
    Health,
    Readiness,
    Taxpayer,
    SellerKey,
    ApiClient,
    IssuedApiClient,
)
