"""The seller's XML Signature of an HDon (pure): RSA and ECDSA, both canonicalisations and
namespaces verify; tampering, unknown or expired certificates and wrapping attempts do not."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from lxml import etree

from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail
from einvoice.hdon.parse import DSIG, NAMESPACE, parse_hdon
from signing.xml_signature import (
    SellerCertificate,
    VerifiedXml,
    _fast_check,
    data_digest,
    verify_seller_xml_signature,
)
from tests.einvoice.hdon.support import (
    ISSUED,
    TAX_CODE,
    certificate,
    private_key,
    registered,
    signed,
)

NOW = dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC)


def _verify(
    body: bytes, certificates: dict[str, SellerCertificate], issued: dt.date = ISSUED
) -> VerifiedXml | list[ErrorDetail]:
    return verify_seller_xml_signature(
        parse_hdon(body),
        seller_tax_code=TAX_CODE,
        issued=issued,
        certificates=certificates,
        now=NOW,
    )


def _code(outcome: VerifiedXml | list[ErrorDetail]) -> ErrorCode:
    assert isinstance(outcome, list), outcome
    return outcome[0].code


@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("namespace", [None, NAMESPACE])
@pytest.mark.parametrize("exclusive", [True, False])
def test_a_seller_signature_verifies(kind: str, namespace: str | None, exclusive: bool) -> None:
    key = private_key(kind)
    cert = certificate(key)
    root = signed(key, cert, namespace=namespace, data_id="Id-22884", exclusive=exclusive)

    outcome = _verify(etree.tostring(root), registered(cert))

    assert isinstance(outcome, VerifiedXml)
    assert outcome.kid == "cert-1"
    assert len(outcome.invoice_hash) == 64


def test_the_hash_is_the_digest_of_the_signed_data_and_ignores_the_rest() -> None:
    key = private_key("ec")
    cert = certificate(key)
    root = signed(key, cert)
    first = _verify(etree.tostring(root), registered(cert))
    etree.SubElement(root, "DLQRCode").text = "outside the signed data"

    second = _verify(etree.tostring(root), registered(cert))

    assert isinstance(first, VerifiedXml)
    assert isinstance(second, VerifiedXml)
    assert first.invoice_hash == second.invoice_hash


def test_content_changed_after_signing_is_refused() -> None:
    key = private_key("rsa")
    cert = certificate(key)
    body = etree.tostring(signed(key, cert)).replace(b"<TgTTTBSo>", b"<TgTTTBSo>1")

    assert _code(_verify(body, registered(cert))) == ErrorCode.SIGNATURE_INVALID


def test_an_unregistered_certificate_or_another_sellers_is_refused() -> None:
    key = private_key("ec")
    cert = certificate(key)
    body = etree.tostring(signed(key, cert))
    other = certificate(private_key("ec"))

    assert _code(_verify(body, registered(other))) == ErrorCode.SIGNATURE_CERTIFICATE_UNKNOWN


def test_a_certificate_not_valid_on_the_issue_date_is_refused() -> None:
    key = private_key("ec")
    cert = certificate(
        key,
        valid_from=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        valid_to=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    body = etree.tostring(signed(key, cert))

    assert _code(_verify(body, registered(cert))) == ErrorCode.SIGNATURE_CERTIFICATE_EXPIRED


def test_a_signature_by_another_key_under_a_registered_certificate_is_refused() -> None:
    key = private_key("ec")
    cert = certificate(key)
    impostor = private_key("ec")
    body = etree.tostring(signed(impostor, cert))  # KeyInfo names the registered certificate

    assert _code(_verify(body, registered(cert))) == ErrorCode.SIGNATURE_INVALID


def test_wrapping_a_signed_copy_elsewhere_is_refused() -> None:
    """The classic wrapping attack: the signed DLHDon hidden elsewhere with the same Id, a new
    DLHDon in its place. The Id must belong to the DLHDon the service reads, and to it alone."""
    key = private_key("rsa")
    cert = certificate(key)
    root = signed(key, cert)
    original = root.find("DLHDon")
    assert original is not None
    hidden = etree.SubElement(root.find("DSCKS/NBan"), "Object")  # type: ignore[arg-type]
    hidden.append(copy.deepcopy(original))
    total = original.find("NDHDon/TToan/TgTTTBSo")
    assert total is not None
    total.text = "1"

    assert (
        _code(_verify(etree.tostring(root), registered(cert))) == ErrorCode.XML_SIGNATURE_MALFORMED
    )


def test_a_reference_to_anything_but_the_dlhdon_is_refused() -> None:
    key = private_key("rsa")
    cert = certificate(key)
    root = signed(key, cert)
    reference = root.find(
        f"DSCKS/NBan/{{{DSIG}}}Signature/{{{DSIG}}}SignedInfo/{{{DSIG}}}Reference"
    )
    assert reference is not None
    reference.set("URI", "")  # the whole document

    assert (
        _code(_verify(etree.tostring(root), registered(cert))) == ErrorCode.XML_SIGNATURE_MALFORMED
    )


def test_a_missing_signature_names_its_place() -> None:
    from einvoice.hdon.fields import hdon_of
    from tests.einvoice.hdon.support import invoice

    outcome = _verify(etree.tostring(hdon_of(invoice())), {})

    assert isinstance(outcome, list)
    assert (outcome[0].code, outcome[0].field) == (
        ErrorCode.XML_SIGNATURE_MALFORMED,
        "/HDon/DSCKS/NBan",
    )


def test_for_exclusive_c14n_the_hash_is_the_sellers_own_digest() -> None:
    import base64

    key = private_key("rsa")
    cert = certificate(key)
    root = signed(key, cert, namespace=NAMESPACE, exclusive=True)
    value = root.find(f".//{{{DSIG}}}DigestValue")
    assert value is not None

    outcome = _verify(etree.tostring(root), registered(cert))

    assert isinstance(outcome, VerifiedXml)
    assert outcome.invoice_hash == base64.b64decode(value.text or "").hex()


SIGNING_TIME = dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("exclusive", [True, False])
def test_a_signature_with_its_signing_time_verifies(kind: str, exclusive: bool) -> None:
    """Signing software adds `ds:Object/.../SigningTime` and a second Reference to it."""
    key = private_key(kind)
    cert = certificate(key)
    body = etree.tostring(signed(key, cert, exclusive=exclusive, signing_time=SIGNING_TIME))
    assert b"<SigningTime>2026-12-01T10:00:00</SigningTime>" in body
    document = parse_hdon(body)

    outcome = _verify(body, registered(cert))

    assert isinstance(outcome, VerifiedXml), outcome
    assert outcome.invoice_hash == data_digest(document)
    signature = document.seller_signature
    assert signature is not None
    fast = _fast_check(signature, outcome.invoice_hash, cert.public_key(), document)
    assert fast is (True if exclusive else None)  # exclusive C14N: no libxmlsec1 needed


def test_a_changed_signing_time_is_refused() -> None:
    key = private_key("ec")
    cert = certificate(key)
    body = etree.tostring(signed(key, cert, signing_time=SIGNING_TIME))
    changed = body.replace(b"2026-12-01T10:00:00", b"2026-11-01T10:00:00")

    assert _code(_verify(changed, registered(cert))) == ErrorCode.SIGNATURE_INVALID


@pytest.mark.parametrize(
    "target",
    [
        "outside",  # an element outside the signature, with an Id of its own
        "twice",  # a second Reference to DLHDon
        "dangling",  # an Id nothing carries
    ],
)
def test_a_second_reference_must_name_the_signatures_own_object(target: str) -> None:
    key = private_key("rsa")
    cert = certificate(key)
    root = signed(key, cert, signing_time=SIGNING_TIME)
    references = root.findall(
        f"DSCKS/NBan/{{{DSIG}}}Signature/{{{DSIG}}}SignedInfo/{{{DSIG}}}Reference"
    )
    assert len(references) == 2
    if target == "outside":
        header = root.find("DLHDon/TTChung")
        assert header is not None
        header.set("Id", "header")
        references[1].set("URI", "#header")
    elif target == "twice":
        references[1].set("URI", references[0].get("URI") or "")
    else:
        references[1].set("URI", "#nothing")

    outcome = _verify(etree.tostring(root), registered(cert))

    assert _code(outcome) == ErrorCode.XML_SIGNATURE_MALFORMED
