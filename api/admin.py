"""The admin HTTP API (role `admin`): taxpayers, their keys, and API clients.

Every request that reaches a route (a valid admin key within its rate limit, a body that parses)
is an admin action recorded in `admin_actions`, success or failure (einvoice/registry/admin.py's
`audited`: a change commits together with its row). The action names are stored: never renamed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import AdminDep
from api.deps import ClientsDep
from api.openapi import WITH_BODY, answer, operation
from api.schemas import ApiClient, IssuedApiClient, SellerKey, Taxpayer
from einvoice.registry import admin
from einvoice.registry.admin import AdminAction
from storage.postgres.registry import ClientRow, SellerKeyRow, TaxpayerRow

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewTaxpayer(_Body):
    tax_code: str = Field(max_length=14)
    name: str = Field(max_length=400)


class TaxpayerChange(_Body):
    status: Literal["active", "suspended", "closed"] | None = None
    # Raise only: spreads a very large seller's month over more Cassandra partitions.
    month_buckets: int | None = Field(default=None, ge=1, le=256)


class NewKey(_Body):
    kid: str = Field(max_length=200)
    # One of the two: a public key, or an X.509 certificate (for XML invoices; its key also
    # verifies the seller's JWS).
    public_key: str | dict[str, Any] | None = Field(
        default=None, description="PEM text, or a JWK (object or JSON text)"
    )
    certificate: str | None = Field(
        default=None, max_length=16_384, description="PEM X.509 certificate of the seller"
    )
    # Ed25519 is RFC 9864's name for EdDSA: registered, and answered, as EdDSA.
    algorithm: Literal["RS256", "PS256", "ES256", "EdDSA", "Ed25519"] | None = None
    valid_from: dt.datetime | None = None
    valid_to: dt.datetime | None = None


class NewClient(_Body):
    role: Literal["business", "officer", "admin"]
    tax_code: str | None = Field(default=None, max_length=14)
    rate_limit_class: Literal["standard", "large", "internal"] = "standard"


def _taxpayer(row: TaxpayerRow) -> dict[str, Any]:
    return {
        "tax_code": row.tax_code,
        "name": row.name,
        "status": row.status,
        "registered_at": row.registered_at.isoformat(),
        "month_buckets": row.month_buckets,
    }


def _key(row: SellerKeyRow) -> dict[str, Any]:
    return {
        "tax_code": row.tax_code,
        "kid": row.kid,
        "algorithm": row.algorithm,
        "public_jwk": row.public_jwk,
        "valid_from": row.valid_from.isoformat(),
        "valid_to": row.valid_to.isoformat() if row.valid_to else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "certificate": _pem(row.certificate) if row.certificate else None,
        "certificate_sha256": hashlib.sha256(row.certificate).hexdigest()
        if row.certificate
        else None,
    }


def _pem(der: bytes) -> str:
    certificate = x509.load_der_x509_certificate(der)
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _client(row: ClientRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "role": row.role,
        "tax_code": row.tax_code,
        "rate_limit_class": row.rate_limit_class,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


@router.post(
    "/taxpayers",
    status_code=201,
    **operation(
        "Register a taxpayer",
        answers={201: answer("Registered", Taxpayer)},
        errors=(*WITH_BODY, 409),
    ),
)
async def add_taxpayer(body: NewTaxpayer, who: AdminDep, clients: ClientsDep) -> JSONResponse:
    """Role `admin`, audited. A valid tax code (check digit), not registered before (409)."""
    row = await admin.audited(
        clients.registry,
        AdminAction(who.client_id, "taxpayer.add", body.tax_code, {"name": body.name}),
        lambda registry: admin.add_taxpayer(registry, body.tax_code, body.name),
        status=201,
    )
    return JSONResponse(_taxpayer(row), status_code=201)


@router.patch(
    "/taxpayers/{tax_code}",
    **operation(
        "Change a taxpayer's status or month buckets",
        answers={200: answer("Changed", Taxpayer)},
        errors=(*WITH_BODY, 404),
    ),
)
async def change_taxpayer(
    tax_code: str, body: TaxpayerChange, who: AdminDep, clients: ClientsDep
) -> dict[str, Any]:
    """Role `admin`, audited. Suspend, close or reactivate (a suspended or closed seller's
    submissions get 403 TAXPAYER_NOT_ACTIVE), or raise `month_buckets` (never lower)."""
    row = await admin.audited(
        clients.registry,
        AdminAction(who.client_id, "taxpayer.change", tax_code, body.model_dump(exclude_none=True)),
        lambda registry: admin.change_taxpayer(registry, tax_code, body.status, body.month_buckets),
    )
    return _taxpayer(row)


@router.post(
    "/taxpayers/{tax_code}/keys",
    status_code=201,
    **operation(
        "Register a seller's signing key or certificate",
        answers={201: answer("Registered", SellerKey)},
        errors=(*WITH_BODY, 404, 409),
    ),
)
async def add_key(tax_code: str, body: NewKey, who: AdminDep, clients: ClientsDep) -> JSONResponse:
    """Role `admin`, audited. A public key (PEM or JWK) or an X.509 certificate, with its
    algorithm and validity; kids are never reused (409). docs/registry.md."""
    row = await admin.audited(
        clients.registry,
        AdminAction(who.client_id, "key.add", f"{tax_code}/{body.kid}"),
        lambda registry: admin.add_key(
            registry,
            tax_code,
            body.kid,
            body.public_key,
            certificate=body.certificate,
            algorithm=body.algorithm,
            valid_from=body.valid_from,
            valid_to=body.valid_to,
        ),
        status=201,
    )
    return JSONResponse(_key(row), status_code=201)


@router.post(
    "/taxpayers/{tax_code}/keys/{kid}/revoke",
    **operation(
        "Revoke a seller's key from now on",
        answers={200: answer("Revoked", SellerKey)},
        errors=(404, 422),
    ),
)
async def revoke_key(tax_code: str, kid: str, who: AdminDep, clients: ClientsDep) -> dict[str, Any]:
    """Role `admin`, audited. Signatures by the key are refused from now on; invoices it signed
    before stay authenticated."""
    row = await admin.audited(
        clients.registry,
        AdminAction(who.client_id, "key.revoke", f"{tax_code}/{kid}"),
        lambda registry: admin.revoke_key(registry, tax_code, kid),
    )
    return _key(row)


@router.post(
    "/clients",
    status_code=201,
    **operation(
        "Issue an API client and its key",
        answers={201: answer("Issued: the key is shown this once", IssuedApiClient)},
        errors=(*WITH_BODY, 404),
    ),
)
async def add_client(body: NewClient, who: AdminDep, clients: ClientsDep) -> JSONResponse:
    """Role `admin`, audited. A business client acts for one registered taxpayer (`tax_code`);
    officers and admins for none. The API key is in this answer only."""
    issued = await admin.audited(
        clients.registry,
        # The target is the new client's id, known once it exists; a refused one has none.
        AdminAction(who.client_id, "client.add", "", body.model_dump()),
        lambda registry: admin.add_client(
            registry, body.role, body.tax_code, body.rate_limit_class
        ),
        status=201,
        target_of=lambda issued: str(issued.client.id),
    )
    # The key is in this answer and nowhere else: only its hash is stored.
    return JSONResponse({**_client(issued.client), "api_key": issued.api_key}, status_code=201)


@router.post(
    "/clients/{client_id}/revoke",
    **operation(
        "Revoke an API client",
        answers={200: answer("Revoked", ApiClient)},
        errors=(404, 422),
    ),
)
async def revoke_client(client_id: str, who: AdminDep, clients: ClientsDep) -> dict[str, Any]:
    """Role `admin`, audited. Its keys are refused from now on (401)."""
    row = await admin.audited(
        clients.registry,
        AdminAction(who.client_id, "client.revoke", client_id),
        lambda registry: admin.revoke_client(registry, client_id),
    )
    return _client(row)
