"""Writes the sample HDon invoices beside this file (run from the checkout's root:
`.venv/bin/python -m tests.samples.hdon.make`). The keys and certificate are test-only, made for
these samples and registered nowhere (kept when they exist already); the tests read the files as
committed.

- invoice-unsigned.xml: an HDon as accounting software builds it, before signing;
- invoice-signed-rsa.xml: signed by the seller (RSA, the national namespace, Id `Id-22884`);
- invoice-signed-rsa-signing-time.xml: signed with a signing time (a second Reference);
- invoice-answer.xml: the service's answer to the signed one: MCCQT and the authority's
  signature in DSCKS/CQT, by the test authority key (authority-test-key.pem, P-256).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from einvoice.hdon.answer import coded_hdon
from einvoice.hdon.fields import hdon_of
from einvoice.hdon.parse import NAMESPACE, parse_hdon
from signing.authority import AuthorityKeyRing, generate_private_key_pem
from signing.xml_signature import data_digest, sign_hdon
from tests.einvoice.hdon.support import certificate, invoice, private_key

HERE = Path(__file__).resolve().parent
SAMPLE_CODE = "00" + "5A3C" * 8  # an authority code of the right form, issued to no one


def main() -> None:
    key_file, cert_file = HERE / "seller-test-key.pem", HERE / "seller-test-certificate.pem"
    if key_file.exists() and cert_file.exists():
        loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        key: rsa.RSAPrivateKey = loaded
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    else:
        generated = private_key("rsa")
        assert isinstance(generated, rsa.RSAPrivateKey)
        key = generated
        cert = certificate(
            key,
            valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            valid_to=dt.datetime(2046, 1, 1, tzinfo=dt.UTC),
        )
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    unsigned = hdon_of(invoice(), data_id="data")
    etree.indent(unsigned)  # for reading; whitespace between tags is not data
    (HERE / "invoice-unsigned.xml").write_bytes(
        etree.tostring(unsigned, xml_declaration=True, encoding="UTF-8")
    )
    signed = sign_hdon(hdon_of(invoice(), data_id="Id-22884", namespace=NAMESPACE), key, cert)
    signed_body = etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
    (HERE / "invoice-signed-rsa.xml").write_bytes(signed_body)
    timed = sign_hdon(
        hdon_of(invoice(), data_id="DLHDon_123"),
        key,
        cert,
        signing_time=dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC),
    )
    (HERE / "invoice-signed-rsa-signing-time.xml").write_bytes(
        etree.tostring(timed, xml_declaration=True, encoding="UTF-8")
    )
    authority_file = HERE / "authority-test-key.pem"
    if not authority_file.exists():
        authority_file.write_bytes(generate_private_key_pem())
    ring = AuthorityKeyRing.from_pems({"cqt-test": authority_file.read_bytes()}, "cqt-test")
    document = parse_hdon(signed_body)
    answer = coded_hdon(signed_body, document, SAMPLE_CODE, ring.active, data_digest(document))
    (HERE / "invoice-answer.xml").write_bytes(answer)


if __name__ == "__main__":
    main()
