"""Verifying the seller's detached JWS over the canonical invoice against the seller's keys.

The signature is a compact JWS with an empty payload part (RFC 7515 Appendix F): the payload is
the invoice's canonical bytes, which the service computes itself, so every party signs and checks
the very same bytes. The header names the key (`kid`) and the algorithm; the key must be one the
registry holds for this seller, valid on the invoice's issue date and not revoked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from cryptography.hazmat.primitives.asymmetric import rsa

from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail, shown
from einvoice.timezone import VIETNAM
from signing import jws
from signing.canonical import canonical_invoice_bytes
from signing.compiled import compiled_seller_key

if TYPE_CHECKING:
    from einvoice_core import CompiledKey

MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class SellerKey:
    """A public key registered to a seller (the registry's row, with the key parsed)."""

    kid: str
    tax_code: str
    algorithm: str
    public_key: jws.PublicKey
    valid_from: dt.datetime
    valid_to: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    # The key as the compiled core takes it (signing/compiled.py); None when it does not.
    compiled: CompiledKey | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = compiled_seller_key(
            tax_code=self.tax_code,
            algorithm=self.algorithm,
            public_key=self.public_key,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            revoked_at=self.revoked_at,
        )
        object.__setattr__(self, "compiled", compiled)  # frozen: set once, here

    def valid_on(self, day: dt.date) -> bool:
        """Whether the key was valid at some moment of `day` in Vietnam."""
        if self.valid_from.astimezone(VIETNAM).date() > day:
            return False
        return self.valid_to is None or self.valid_to.astimezone(VIETNAM).date() >= day


def verify_seller_signature(
    signature: str,
    canonical: bytes,
    *,
    seller_tax_code: str,
    issued: dt.date,
    keys: Mapping[str, SellerKey],
    now: dt.datetime,
    field: str = "/signature",
) -> list[ErrorDetail]:
    """The signature's problems; empty when it is the seller's valid signature of `canonical`."""

    def problem(code: ErrorCode, message: str) -> list[ErrorDetail]:
        return [ErrorDetail(code, message, field)]

    try:
        header_b64, payload_b64, raw_signature = jws.split_compact(signature)
        header = jws.decode_header(header_b64)
    except jws.JwsError as error:
        return problem(
            ErrorCode.SIGNATURE_MALFORMED, f"expected a compact JWS: header..signature ({error})"
        )
    if payload_b64 or not isinstance(header, dict):
        return problem(
            ErrorCode.SIGNATURE_MALFORMED, "expected a detached JWS: an empty payload part"
        )
    kid = header.get("kid")
    alg = jws.algorithm_named(header.get("alg"))  # Ed25519 is EdDSA (RFC 9864)
    if alg is None:
        return problem(ErrorCode.SIGNATURE_ALGORITHM_NOT_ALLOWED, _algorithm_refused(header))
    if header.get("b64") is False or "crit" in header:
        return problem(
            ErrorCode.SIGNATURE_MALFORMED, "unencoded payloads and critical headers are not used"
        )
    if "kid" not in header:
        return problem(ErrorCode.SIGNATURE_KEY_UNKNOWN, "the header has no kid naming the key")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None or key.tax_code != seller_tax_code:
        return problem(
            ErrorCode.SIGNATURE_KEY_UNKNOWN, f"no key {shown(kid)} is registered to the seller"
        )
    if alg != key.algorithm:
        return problem(
            ErrorCode.SIGNATURE_KEY_ALGORITHM_MISMATCH,
            f"key {kid} is registered for {key.algorithm}",
        )
    if isinstance(key.public_key, rsa.RSAPublicKey) and key.public_key.key_size < MIN_RSA_BITS:
        return problem(
            ErrorCode.SIGNATURE_KEY_TOO_WEAK, f"RSA keys need at least {MIN_RSA_BITS} bits"
        )
    if key.revoked_at is not None and key.revoked_at <= now:
        return problem(ErrorCode.SIGNATURE_KEY_REVOKED, f"key {kid} was revoked")
    if not key.valid_on(issued):
        return problem(ErrorCode.SIGNATURE_KEY_NOT_ACTIVE, f"key {kid} was not valid on {issued}")
    signing_input = header_b64 + b"." + jws.b64url_encode(canonical)
    if not jws.verify(alg, key.public_key, signing_input, raw_signature):
        return problem(
            ErrorCode.SIGNATURE_INVALID, "the signature does not verify over the invoice"
        )
    return []


def _algorithm_refused(header: dict[str, Any]) -> str:
    accepted = "RS256, PS256, ES256 or EdDSA (also named Ed25519)"
    if "alg" not in header:
        return f"the header has no alg: use {accepted}"
    return f"alg {shown(header['alg'])} is not accepted: use {accepted}"


def sign_invoice(invoice_json: Any, private_key: jws.PrivateKey, *, kid: str, alg: str) -> str:
    """The seller's side: a detached JWS over the canonical invoice, as accounting software
    makes it (used by the demo, the load tests and the tests)."""
    header_b64 = jws.b64url_encode(orjson.dumps({"alg": alg, "kid": kid}))
    signing_input = header_b64 + b"." + jws.b64url_encode(canonical_invoice_bytes(invoice_json))
    signature = jws.sign(alg, private_key, signing_input)
    return (header_b64 + b".." + jws.b64url_encode(signature)).decode("ascii")
