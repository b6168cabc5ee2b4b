"""The fast XML-signature check (lxml C14N and `cryptography`) and libxmlsec1, the reference,
give the same answer on signed invoices and on every change made to them (pure)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from einvoice.hdon.parse import NAMESPACE, MalformedXml, parse_hdon
from signing.xml_signature import SellerCertificate, VerifiedXml, verify_seller_xml_signature
from tests.einvoice.hdon.support import (
    ISSUED,
    TAX_CODE,
    certificate,
    invoice,
    private_key,
    registered,
    signed,
)

NOW = dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC)
KEYS = {kind: private_key(kind) for kind in ("rsa", "ec")}
CERTIFICATES = {kind: certificate(key) for kind, key in KEYS.items()}


def _both(body: bytes, certificates: dict[str, SellerCertificate]) -> tuple[object, object]:
    answers: list[object] = []
    for reference in (False, True):
        try:
            document = parse_hdon(body)
        except MalformedXml as error:
            answers.append(("malformed", error.details[0].field))
            continue
        outcome = verify_seller_xml_signature(
            document,
            seller_tax_code=TAX_CODE,
            issued=ISSUED,
            certificates=certificates,
            now=NOW,
            reference=reference,
        )
        answers.append(
            outcome.invoice_hash
            if isinstance(outcome, VerifiedXml)
            else [(error.code, error.field) for error in outcome]
        )
    return answers[0], answers[1]


def _signed(kind: str, namespace: str | None, signing_time: bool = False) -> bytes:
    content = invoice()
    content["lines"][0]["name"] = "Giấy <A4> & \"bìa\" 'cứng'"  # escaped characters in the data
    moment = NOW if signing_time else None
    return etree.tostring(
        signed(
            KEYS[kind],
            CERTIFICATES[kind],
            content=content,
            namespace=namespace,
            signing_time=moment,
        )
    )


CHANGES = [
    ("unchanged", lambda body: body),
    ("content", lambda body: body.replace(b"<SLuong>1<", b"<SLuong>2<", 1)),
    ("signature value", lambda body: body.replace(b"<SignatureValue>", b"<SignatureValue>AA", 1)),
    ("digest value", lambda body: body.replace(b"<DigestValue>", b"<DigestValue>AA", 1)),
    ("a comment in the data", lambda body: body.replace(b"<NDHDon>", b"<NDHDon><!-- x -->", 1)),
    ("whitespace in SignedInfo", lambda body: body.replace(b"<SignedInfo>", b"<SignedInfo>\n ", 1)),
    ("an attribute in the data", lambda body: body.replace(b"<NDHDon>", b'<NDHDon a="1">', 1)),
    ("a character reference", lambda body: body.replace(b"<DVTinh>ram", b"<DVTinh>&#114;am", 1)),
    ("CDATA", lambda body: body.replace(b"<DVTinh>ram", b"<DVTinh><![CDATA[ram]]>", 1)),
    ("outside the data", lambda body: body.replace(b"<DSCKS>", b"<DLQRCode>x</DLQRCode><DSCKS>")),
    # Found by the xml fuzz target: Python's base64 skipped the "(", libxmlsec1 refused it.
    (
        "a stray character in base64",
        lambda body: body.replace(b"<SignatureValue>", b"<SignatureValue>(", 1),
    ),
    # With a signing time (the second Reference, to the signature's own Object).
    ("the signing time", lambda body: body.replace(b"T10:00:00<", b"T10:00:01<", 1)),
    ("the signing time's digest", lambda body: _second_digest(body, b"AA")),
    (
        "a transform on the signing time",
        lambda body: body.replace(
            b'URI="#SigningTime"><Transforms>',
            b'URI="#SigningTime"><Transforms><Transform '
            b'Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>',
            1,
        ),
    ),
]


def _second_digest(body: bytes, prefix: bytes) -> bytes:
    first = body.index(b"<DigestValue>")
    second = body.index(b"<DigestValue>", first + 1) if b"SigningTime" in body else first
    return body[:second] + b"<DigestValue>" + prefix + body[second + len(b"<DigestValue>") :]


@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("namespace", [None, NAMESPACE])
@pytest.mark.parametrize(("name", "change"), CHANGES, ids=[name for name, _ in CHANGES])
@pytest.mark.parametrize("signing_time", [False, True])
def test_fast_and_reference_agree(  # type: ignore[no-untyped-def]
    kind: str, namespace: str | None, name: str, change, signing_time: bool
) -> None:
    body = change(_signed(kind, namespace, signing_time))
    fast, reference = _both(body, registered(CERTIFICATES[kind]))

    assert fast == reference, name


@settings(max_examples=150, deadline=None)
@given(position=st.integers(min_value=0), byte=st.integers(min_value=32, max_value=126))
def test_fast_and_reference_agree_on_any_one_byte_changed(position: int, byte: int) -> None:
    body = bytearray(_SIGNED_EC)
    body[position % len(body)] = byte

    fast, reference = _both(bytes(body), registered(CERTIFICATES["ec"]))

    assert fast == reference


_SIGNED_EC = _signed("ec", NAMESPACE, signing_time=True)
