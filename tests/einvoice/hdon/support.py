"""Sellers' certificates and signed HDon invoices for the XML tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from einvoice.hdon.fields import hdon_of
from einvoice.invoice.samples import sample_invoice
from signing.xml_signature import SellerCertificate, sign_hdon

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
TAX_CODE = "0100109106"
ISSUED = dt.date(2026, 12, 1)


def private_key(kind: str) -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def certificate(
    key: PrivateKey,
    *,
    valid_from: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    valid_to: dt.datetime = dt.datetime(2036, 1, 1, tzinfo=dt.UTC),
) -> x509.Certificate:
    """Self-signed, as the registry accepts (CA chains are the documented extension point)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"MST:{TAX_CODE}")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .sign(key, hashes.SHA256())
    )


def registered(cert: x509.Certificate, kid: str = "cert-1") -> dict[str, SellerCertificate]:
    seller = SellerCertificate(kid=kid, tax_code=TAX_CODE, certificate=cert)
    return {seller.fingerprint: seller}


def invoice(number: int = 1, **changes: Any) -> dict[str, Any]:
    return {**sample_invoice(seller_tax_code=TAX_CODE, number=number, issued=ISSUED), **changes}


def signed(
    key: PrivateKey,
    cert: x509.Certificate,
    *,
    content: dict[str, Any] | None = None,
    namespace: str | None = None,
    data_id: str = "data",
    exclusive: bool = True,
    signing_time: dt.datetime | None = None,
) -> etree._Element:
    root = hdon_of(content or invoice(), data_id=data_id, namespace=namespace)
    return sign_hdon(root, key, cert, exclusive=exclusive, signing_time=signing_time)
