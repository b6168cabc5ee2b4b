"""Authenticating one submitted invoice: the one implementation the real-time path, the batch
workers and the tests share. Pure: the seller's keys, the authority and the clock come in.

Two implementations give the same answers. The reference one below, in Python, is the rule book:
it collects and explains every failure. The compiled core (`einvoice_core`, docs/signing.md)
takes the common case, a valid invoice, about 3 times faster; whenever it is not certain (any
failure, or a case it leaves alone) it steps aside and the reference decides. Differential tests
(tests/einvoice/invoice/test_compiled.py) hold the two together. Without the core (not
installed, or EINVOICE_PURE=1: einvoice/accelerator.py) the reference decides every invoice.

Order: structure first (the rules need a well-formed invoice); then every business rule and the
seller's signature, all failures collected; only an invoice without any failure gets a code and
a token. Error pointers are relative to the submission `{"invoice": ..., "signature": ...}`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from einvoice.accelerator import core
from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail
from einvoice.invoice.model import Invoice
from einvoice.invoice.rules import check_invoice, parse_date
from einvoice.invoice.structure import parse_invoice
from signing.authority import AuthorityKeyRing, new_code, token_claims
from signing.canonical import canonical_invoice_bytes, invoice_hash
from signing.seller import SellerKey, verify_seller_signature

KeysForSeller = Callable[[str], Mapping[str, SellerKey]]


@dataclass(frozen=True)
class Authority:
    """What the authority signs with: its key ring, this node's code prefix, and the name its
    tokens carry as `iss` (EINVOICE_TOKEN_ISSUER)."""

    keyring: AuthorityKeyRing
    code_prefix: str
    issuer: str


@dataclass(frozen=True)
class Authenticated:
    invoice: Invoice
    canonical: bytes
    invoice_hash: str
    code: str
    coded: bool
    token: str
    authenticated_at: dt.datetime


@dataclass(frozen=True)
class Rejected:
    errors: list[ErrorDetail]
    # Known when the invoice was well-formed: lets a caller answer a resubmission of an invoice
    # that was accepted earlier with its original result.
    invoice: Invoice | None = None
    invoice_hash: str | None = None


def authenticate(
    raw_invoice: Any,
    signature: Any,
    *,
    keys_for_seller: KeysForSeller,
    authority: Authority,
    now: dt.datetime,
) -> Authenticated | Rejected:
    signer = authority.keyring.token_signer
    # A token signer exists only with the compiled core (signing/compiled.py).
    if signer is not None and core is not None:
        fast: tuple[bytes, str, str, bool, str] | None = core.authenticate(
            raw_invoice,
            signature,
            keys_for_seller,
            signer,
            authority.issuer,
            authority.code_prefix,
            now.timestamp(),
        )
        if fast is not None:
            canonical, digest, code, coded, token = fast
            # Certainly valid, so the parsed JSON is the invoice the model would have returned.
            invoice = cast(Invoice, raw_invoice)
            return Authenticated(invoice, canonical, digest, code, coded, token, now)
    return authenticate_reference(
        raw_invoice, signature, keys_for_seller=keys_for_seller, authority=authority, now=now
    )


def authenticate_reference(
    raw_invoice: Any,
    signature: Any,
    *,
    keys_for_seller: KeysForSeller,
    authority: Authority,
    now: dt.datetime,
) -> Authenticated | Rejected:
    """The rule book: every check in Python, every failure collected and explained."""
    invoice, errors = parse_invoice(raw_invoice, prefix="/invoice")
    if not isinstance(signature, str):
        errors.append(
            ErrorDetail(
                ErrorCode.FIELD_REQUIRED, "the seller's detached JWS is required", "/signature"
            )
        )
    if invoice is None:
        return Rejected(errors)
    for error in check_invoice(invoice, now):
        errors.append(ErrorDetail(error.code, error.message, "/invoice" + (error.field or "")))
    canonical = canonical_invoice_bytes(raw_invoice)
    digest = invoice_hash(canonical)
    issued = parse_date(invoice["issued_date"])
    seller_tax_code = invoice["seller"]["tax_code"]
    if isinstance(signature, str) and issued is not None:
        errors.extend(
            verify_seller_signature(
                signature,
                canonical,
                seller_tax_code=seller_tax_code,
                issued=issued,
                keys=keys_for_seller(seller_tax_code),
                now=now,
            )
        )
    if errors:
        return Rejected(errors, invoice, digest)
    code = new_code(authority.code_prefix)
    coded = invoice["symbol"][0] == "C"
    token = authority.keyring.sign_token(
        token_claims(
            invoice,
            issuer=authority.issuer,
            code=code,
            invoice_hash=digest,
            iat=int(now.timestamp()),
        )
    )
    return Authenticated(invoice, canonical, digest, code, coded, token, now)
