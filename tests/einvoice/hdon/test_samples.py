"""The sample invoices in tests/samples/hdon, as committed: readable, mapped to the sample
invoice, and the signed one verifying with its test certificate."""

from __future__ import annotations

from pathlib import Path

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from einvoice.hdon.fields import invoice_of
from einvoice.hdon.parse import DSIG, parse_hdon
from signing.authority import AuthorityKeyRing
from signing.xml_signature import VerifiedXml, verify_seller_xml_signature
from tests.einvoice.hdon.support import ISSUED, TAX_CODE, invoice, registered
from tests.samples.hdon.make import SAMPLE_CODE
from tests.signing.test_xml_signature import NOW

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "hdon"


def test_the_samples_carry_the_sample_invoice() -> None:
    for name in ("invoice-unsigned.xml", "invoice-signed-rsa.xml"):
        assert invoice_of(parse_hdon((SAMPLES / name).read_bytes())) == invoice(), name


def test_the_signed_sample_verifies_with_its_certificate() -> None:
    cert = x509.load_pem_x509_certificate((SAMPLES / "seller-test-certificate.pem").read_bytes())
    document = parse_hdon((SAMPLES / "invoice-signed-rsa.xml").read_bytes())

    outcome = verify_seller_xml_signature(
        document, seller_tax_code=TAX_CODE, issued=ISSUED, certificates=registered(cert), now=NOW
    )

    assert isinstance(outcome, VerifiedXml)


def test_the_signing_time_sample_verifies_and_carries_the_sample_invoice() -> None:
    cert = x509.load_pem_x509_certificate((SAMPLES / "seller-test-certificate.pem").read_bytes())
    document = parse_hdon((SAMPLES / "invoice-signed-rsa-signing-time.xml").read_bytes())

    outcome = verify_seller_xml_signature(
        document, seller_tax_code=TAX_CODE, issued=ISSUED, certificates=registered(cert), now=NOW
    )

    assert isinstance(outcome, VerifiedXml)
    assert invoice_of(document) == invoice()


def test_the_answer_sample_is_the_signed_sample_coded_by_the_test_authority() -> None:
    signed = (SAMPLES / "invoice-signed-rsa.xml").read_bytes()
    answer = (SAMPLES / "invoice-answer.xml").read_bytes()
    ring = AuthorityKeyRing.from_pems(
        {"cqt-test": (SAMPLES / "authority-test-key.pem").read_bytes()}, "cqt-test"
    )

    document = parse_hdon(answer)
    code = document.root.find(document.tag("MCCQT"))
    assert code is not None
    assert code.text == SAMPLE_CODE
    data = signed[signed.index(b"<DLHDon") : signed.index(b"</DLHDon>")]
    seller = signed[signed.index(b"<DSCKS>") : signed.index(b"</NBan>")]
    assert data in answer  # byte for byte
    assert seller in answer
    signature = document.root.find(
        f"{document.tag('DSCKS')}/{document.tag('CQT')}/{{{DSIG}}}Signature"
    )
    assert signature is not None
    context = xmlsec.SignatureContext()
    pem = ring.active.certificate.public_bytes(serialization.Encoding.PEM)
    context.key = xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
    xmlsec.tree.add_ids(document.root, ["Id"])
    context.verify(signature)  # raises unless the authority's signature holds
