"""The sample invoices in tests/samples/hdon, as committed: readable, mapped to the sample
invoice, and the signed one verifying with its test certificate."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from einvoice.hdon.fields import invoice_of
from einvoice.hdon.parse import parse_hdon
from signing.xml_signature import VerifiedXml, verify_seller_xml_signature
from tests.einvoice.hdon.support import ISSUED, TAX_CODE, invoice, registered
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
