"""Authenticating one XML invoice (pure): the JSON invoice's rules with element paths, the XML
signature, and the coded answer."""

from __future__ import annotations

import einvoice_core
import pytest
from lxml import etree

from einvoice.error_codes import ErrorCode
from einvoice.hdon.authenticate import AuthenticatedXml, authenticate_xml
from einvoice.hdon.fields import hdon_of, invoice_of
from einvoice.hdon.parse import NAMESPACE, parse_hdon
from einvoice.invoice.authenticate import Authority, Rejected
from einvoice.invoice.samples import sample_invoice
from einvoice.invoice.structure import parse_invoice
from signing.authority import AuthorityKeyRing, generate_private_key_pem
from signing.canonical import canonical_invoice_bytes
from signing.xml_signature import SellerCertificate, data_digest
from tests.einvoice.hdon.support import (
    ISSUED,
    TAX_CODE,
    certificate,
    invoice,
    private_key,
    registered,
    signed,
)
from tests.signing.keys import ISSUER
from tests.signing.test_xml_signature import NOW

AUTHORITY = Authority(
    AuthorityKeyRing.from_pems({"cqt-1": generate_private_key_pem()}, "cqt-1"), "0A", ISSUER
)


def _authenticate(
    body: bytes, certificates: dict[str, SellerCertificate]
) -> AuthenticatedXml | Rejected:
    return authenticate_xml(
        body, certificates_for_seller=lambda _: certificates, authority=AUTHORITY, now=NOW
    )


def test_a_valid_xml_invoice_gets_a_code_a_token_and_the_coded_xml() -> None:
    key = private_key("ec")
    cert = certificate(key)
    body = etree.tostring(signed(key, cert, namespace=NAMESPACE))

    outcome = _authenticate(body, registered(cert))

    assert isinstance(outcome, AuthenticatedXml), outcome
    result = outcome.authenticated
    assert result.code.startswith("0A")
    assert len(result.code) == 34
    assert result.invoice == invoice()
    assert result.invoice_hash == data_digest(parse_hdon(body))
    claims = AUTHORITY.keyring.verify_token(result.token)
    assert claims is not None
    assert (claims["code"], claims["invoice_hash"]) == (result.code, result.invoice_hash)
    answer = parse_hdon(outcome.answer)
    code_element = answer.root.find(answer.tag("MCCQT"))
    assert code_element is not None
    assert code_element.text == result.code


def test_rule_errors_name_the_element() -> None:
    key = private_key("ec")
    cert = certificate(key)
    wrong = invoice()
    wrong["totals"] = {**wrong["totals"], "total_payable": "1"}
    body = etree.tostring(signed(key, cert, content=wrong))

    outcome = _authenticate(body, registered(cert))

    assert isinstance(outcome, Rejected)
    fields = {(error.code, error.field) for error in outcome.errors}
    assert (
        ErrorCode.TOTAL_PAYABLE_MISMATCH,
        "/HDon/DLHDon/NDHDon/TToan/TgTTTBSo",
    ) in fields
    assert outcome.invoice_hash == data_digest(parse_hdon(body))


def test_an_unknown_certificate_and_a_sellers_code_are_refused() -> None:
    key = private_key("rsa")
    cert = certificate(key)
    body = etree.tostring(signed(key, cert))
    with_code = body.replace(b"<DSCKS>", b"<MCCQT>00AB</MCCQT><DSCKS>")

    unknown = _authenticate(body, {})
    coded = _authenticate(with_code, registered(cert))

    assert isinstance(unknown, Rejected)
    assert [error.code for error in unknown.errors] == [ErrorCode.SIGNATURE_CERTIFICATE_UNKNOWN]
    assert isinstance(coded, Rejected)
    assert [(e.code, e.field) for e in coded.errors] == [
        (ErrorCode.XML_AUTHORITY_PART_SENT, "/HDon/MCCQT")
    ]


@pytest.mark.parametrize("lines", [1, 3, 10])
@pytest.mark.parametrize("namespace", [None, NAMESPACE])
def test_the_compiled_rules_and_the_reference_agree_on_a_read_hdon(
    lines: int, namespace: str | None
) -> None:
    """DLHDon read as the invoice is what the compiled rules check (einvoice_core): for a valid
    invoice they give the canonical bytes the reference gives, and the same invoice."""
    content = sample_invoice(seller_tax_code=TAX_CODE, number=7, issued=ISSUED, lines=lines)
    raw = invoice_of(parse_hdon(etree.tostring(hdon_of(content, namespace=namespace))))

    canonical = einvoice_core.check_invoice(raw, NOW.timestamp())

    parsed, errors = parse_invoice(raw, prefix="/invoice")
    assert errors == []
    assert parsed == raw
    assert canonical == canonical_invoice_bytes(raw)
