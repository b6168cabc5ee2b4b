"""An authority key's certificate: the derived one (valid until 2100) unless one is given beside
the key, which must be one parseable certificate of the key's own public key."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signing.authority import AuthorityKeyRing, dated_certificate, generate_private_key_pem

NOW = dt.datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=dt.UTC)


def _private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _ca_issued(pem: bytes, not_after: dt.datetime) -> x509.Certificate:
    """A certificate of the key in `pem`, issued by another key (a CA's)."""
    ca = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CQT authority key")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "GDT CA")]))
        .public_key(_private_key(pem).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(not_after)
        .sign(ca, hashes.SHA256())
    )


def test_without_a_certificate_the_derived_one_is_used_and_never_expires_before_2100() -> None:
    keys = AuthorityKeyRing.from_pems({"cqt-1": generate_private_key_pem()}, "cqt-1")

    assert keys.active.not_after == dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    assert keys.active.not_after.tzinfo is not None


def test_a_given_certificate_is_published_in_x5c_and_dates_the_key() -> None:
    pem = generate_private_key_pem()
    not_after = dt.datetime(2027, 6, 30, tzinfo=dt.UTC)
    certificate = _ca_issued(pem, not_after)

    keys = AuthorityKeyRing.from_pems(
        {"cqt-1": pem, "cqt-0": generate_private_key_pem()},
        "cqt-1",
        {"cqt-1": _pem(certificate)},
    )

    (published,) = (key for key in keys.jwks()["keys"] if key["kid"] == "cqt-1")
    assert base64.b64decode(published["x5c"][0]) == certificate.public_bytes(
        serialization.Encoding.DER
    )
    assert keys.active.certificate == certificate  # the XML signature's KeyInfo
    assert keys.active.not_after == not_after
    assert keys.keys["cqt-0"].not_after == dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def test_a_certificate_of_another_key_is_refused() -> None:
    pem = generate_private_key_pem()
    foreign = _ca_issued(generate_private_key_pem(), NOW + dt.timedelta(days=90))

    with pytest.raises(ValueError, match="cqt-1 is for another public key"):
        AuthorityKeyRing.from_pems({"cqt-1": pem}, "cqt-1", {"cqt-1": _pem(foreign)})


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a certificate",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ],
)
def test_a_certificate_that_does_not_parse_is_refused(content: bytes) -> None:
    with pytest.raises(ValueError, match=r"cqt-1 is not a PEM X\.509 certificate"):
        AuthorityKeyRing.from_pems(
            {"cqt-1": generate_private_key_pem()}, "cqt-1", {"cqt-1": content}
        )


def test_a_chain_is_refused() -> None:
    pem = generate_private_key_pem()
    certificate = _pem(_ca_issued(pem, NOW + dt.timedelta(days=90)))

    with pytest.raises(ValueError, match="holds 2 certificates"):
        AuthorityKeyRing.from_pems({"cqt-1": pem}, "cqt-1", {"cqt-1": certificate * 2})


def test_a_certificate_without_its_key_is_refused() -> None:
    pem = generate_private_key_pem()
    certificate = _pem(dated_certificate("cqt-1", _private_key(pem), NOW, 30))

    with pytest.raises(ValueError, match="without a private key: cqt-2"):
        AuthorityKeyRing.from_pems({"cqt-1": pem}, "cqt-1", {"cqt-2": certificate})


def test_a_dated_certificate_is_self_signed_from_now_for_the_days_given() -> None:
    key = _private_key(generate_private_key_pem())

    certificate = dated_certificate("cqt-1", key, NOW, 365)

    assert certificate.not_valid_before_utc == NOW.replace(microsecond=0)
    assert certificate.not_valid_after_utc == NOW.replace(microsecond=0) + dt.timedelta(days=365)
    assert certificate.public_key() == key.public_key()
    certificate.verify_directly_issued_by(certificate)


@pytest.mark.parametrize("days", [0, -1])
def test_a_dated_certificate_lasts_at_least_a_day(days: int) -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        dated_certificate("cqt-1", _private_key(generate_private_key_pem()), NOW, days)
