"""Authenticating one XML invoice (HDon): the same rules as a JSON invoice, the seller's XML
Signature instead of the JWS, and the coded HDon as the answer. Pure: the seller's certificates,
the authority and the clock come in.

DLHDon is read as the invoice model (einvoice/hdon/fields.py), so structure and business rules are
the JSON invoice's own (einvoice/invoice/rules.py), their error pointers turned into element
paths. The hash is the service's own digest of DLHDon (signing/xml_signature.py); the token and
the code are made as for JSON, and the answer is the received bytes with MCCQT and the authority's
signature (einvoice/hdon/answer.py). Malformed XML raises MalformedXml (400); everything else is
an Authenticated (with `answer`) or a Rejected, like the JSON path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

from einvoice.accelerator import core
from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail
from einvoice.hdon.answer import coded_hdon
from einvoice.hdon.fields import invoice_of, xml_path
from einvoice.hdon.parse import parse_hdon
from einvoice.invoice.authenticate import Authenticated, Authority, Rejected
from einvoice.invoice.model import Invoice
from einvoice.invoice.rules import check_invoice, parse_date
from einvoice.invoice.structure import parse_invoice
from signing.authority import new_code, token_claims
from signing.canonical import canonical_invoice_bytes
from signing.xml_signature import (
    SellerCertificate,
    VerifiedXml,
    data_digest,
    verify_seller_xml_signature,
)

CertificatesForSeller = Callable[[str], Mapping[str, SellerCertificate]]


@dataclass(frozen=True)
class AuthenticatedXml:
    authenticated: Authenticated  # as for a JSON invoice (canonical: the invoice's JSON form)
    answer: bytes  # the coded HDon


def authenticate_xml(
    body: bytes,
    *,
    certificates_for_seller: CertificatesForSeller,
    authority: Authority,
    now: dt.datetime,
) -> AuthenticatedXml | Rejected:
    document = parse_hdon(body)
    if document.has_code or document.authority_signed:
        return Rejected(
            [
                ErrorDetail(
                    ErrorCode.XML_AUTHORITY_PART_SENT,
                    "send the invoice without MCCQT and with DSCKS/CQT empty or absent",
                    "/HDon/MCCQT" if document.has_code else "/HDon/DSCKS/CQT",
                )
            ]
        )
    raw_invoice = invoice_of(document)
    # The compiled rules first, as for JSON (einvoice/invoice/authenticate.py): canonical bytes
    # when the invoice is certainly valid; otherwise (or without the compiled core,
    # einvoice/accelerator.py) the reference rules decide and explain.
    canonical: bytes | None = (
        None if core is None else core.check_invoice(raw_invoice, now.timestamp())
    )
    errors: list[ErrorDetail] = []
    if canonical is not None:
        invoice = cast(Invoice, raw_invoice)
    else:
        parsed, problems = parse_invoice(raw_invoice, prefix="/invoice")
        errors = [_at_element(error) for error in problems]
        if parsed is None:
            return Rejected(errors)
        invoice = parsed
        errors += [_at_element(error) for error in check_invoice(invoice, now)]
    digest: str | None = None
    issued = parse_date(invoice["issued_date"])
    seller_tax_code = invoice["seller"]["tax_code"]
    if issued is not None:
        verified = verify_seller_xml_signature(
            document,
            seller_tax_code=seller_tax_code,
            issued=issued,
            certificates=certificates_for_seller(seller_tax_code),
            now=now,
        )
        if isinstance(verified, VerifiedXml):
            digest = verified.invoice_hash  # computed there already
        else:
            errors += verified
    if digest is None:
        digest = data_digest(document)
    if errors:
        return Rejected(errors, invoice, digest)
    code = new_code(authority.code_prefix)
    token = authority.keyring.sign_token(
        token_claims(
            invoice,
            issuer=authority.issuer,
            code=code,
            invoice_hash=digest,
            iat=int(now.timestamp()),
        )
    )
    authenticated = Authenticated(
        invoice,
        canonical if canonical is not None else canonical_invoice_bytes(raw_invoice),
        digest,
        code,
        invoice["symbol"][0] == "C",
        token,
        now,
    )
    keyring = authority.keyring
    answer = coded_hdon(body, document, code, keyring.active, digest, keyring.token_signer)
    return AuthenticatedXml(authenticated, answer)


def _at_element(error: ErrorDetail) -> ErrorDetail:
    """A rule's error, its JSON pointer (relative to the invoice or `/invoice/...`) turned into
    the element's path."""
    field = error.field or ""
    pointer = field if field.startswith("/invoice") else "/invoice" + field
    return ErrorDetail(error.code, error.message, xml_path(pointer))
