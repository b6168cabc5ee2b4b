"""Writes the sample HDon invoices beside this file (run from the checkout's root:
`.venv/bin/python -m tests.samples.hdon.make`). The key and certificate are test-only, made for
these samples and registered nowhere; the tests read the files as committed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from lxml import etree

from einvoice.hdon.fields import hdon_of
from einvoice.hdon.parse import NAMESPACE
from signing.xml_signature import sign_hdon
from tests.einvoice.hdon.support import certificate, invoice, private_key

HERE = Path(__file__).resolve().parent


def main() -> None:
    key = private_key("rsa")
    cert = certificate(
        key,
        valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        valid_to=dt.datetime(2046, 1, 1, tzinfo=dt.UTC),
    )
    (HERE / "seller-test-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (HERE / "seller-test-certificate.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
    )
    unsigned = hdon_of(invoice(), data_id="data")
    etree.indent(unsigned)  # for reading; whitespace between tags is not data
    (HERE / "invoice-unsigned.xml").write_bytes(
        etree.tostring(unsigned, xml_declaration=True, encoding="UTF-8")
    )
    signed = sign_hdon(hdon_of(invoice(), data_id="Id-22884", namespace=NAMESPACE), key, cert)
    (HERE / "invoice-signed-rsa.xml").write_bytes(
        etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
    )


if __name__ == "__main__":
    main()
