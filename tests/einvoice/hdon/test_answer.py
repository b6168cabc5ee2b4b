"""The authority's answer to an XML invoice (pure): the received bytes kept, the MCCQT and the
authority's signature added, and both signatures verifying in the answer."""

from __future__ import annotations

import base64

import pytest
import xmlsec
from cryptography.hazmat.primitives import serialization
from lxml import etree

from einvoice.hdon.answer import coded_hdon
from einvoice.hdon.parse import DSIG, NAMESPACE, parse_hdon
from signing.authority import AuthorityKey, AuthorityKeyRing, generate_private_key_pem
from signing.xml_signature import VerifiedXml, data_digest, verify_seller_xml_signature
from tests.einvoice.hdon.support import (
    ISSUED,
    TAX_CODE,
    certificate,
    private_key,
    registered,
    signed,
)
from tests.signing.test_xml_signature import NOW

CODE = "00" + "AB12" * 8


def _authority() -> AuthorityKey:
    return AuthorityKeyRing.from_pems({"cqt-1": generate_private_key_pem()}, "cqt-1").active


def _seller_parts(body: bytes) -> list[bytes]:
    """DLHDon and the seller's signature, as sent."""
    data = body[body.index(b"<DLHDon") : body.index(b"</DLHDon>") + len(b"</DLHDon>")]
    signature = body[body.index(b"<Signature") : body.index(b"</Signature>") + len(b"</Signature>")]
    return [data, signature]


def _verify_authority(answer: bytes, authority: AuthorityKey) -> list[str]:
    """The URIs the authority's signature covers, after checking it with its certificate."""
    document = parse_hdon(answer)
    root = document.root
    place = f"{document.tag('DSCKS')}/{document.tag('CQT')}/{{{DSIG}}}Signature"
    signature = root.find(place)
    assert signature is not None
    context = xmlsec.SignatureContext()
    pem = authority.certificate.public_bytes(serialization.Encoding.PEM)
    context.key = xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
    xmlsec.tree.add_ids(root, ["Id"])
    context.verify(signature)
    return [reference.get("URI") or "" for reference in signature.iter(f"{{{DSIG}}}Reference")]


@pytest.mark.parametrize("namespace", [None, NAMESPACE])
@pytest.mark.parametrize("placeholder", [b"", b"<CQT/>", b"<CQT></CQT>"])
def test_the_answer_keeps_the_sellers_bytes_and_adds_a_verifying_code(
    namespace: str | None, placeholder: bytes
) -> None:
    key = private_key("rsa")
    cert = certificate(key)
    body = etree.tostring(signed(key, cert, namespace=namespace, data_id="Id-22884"))
    if placeholder:
        body = body.replace(b"</NBan></DSCKS>", b"</NBan>" + placeholder + b"</DSCKS>")
    authority = _authority()

    document = parse_hdon(body)
    answer = coded_hdon(body, document, CODE, authority, data_digest(document))

    for part in _seller_parts(body):
        assert part in answer  # byte for byte
    document = parse_hdon(answer)
    assert document.has_code
    code_element = document.root.find(document.tag("MCCQT"))
    assert code_element is not None
    assert code_element.text == CODE
    assert list(document.root).index(code_element) == 1  # after DLHDon, before DSCKS
    seller = verify_seller_xml_signature(
        document, seller_tax_code=TAX_CODE, issued=ISSUED, certificates=registered(cert), now=NOW
    )
    assert isinstance(seller, VerifiedXml)
    assert _verify_authority(answer, authority) == ["#Id-22884", f"#{code_element.get('Id')}"]
    authority_part = answer[answer.index(b"<CQT>") :].replace(b"\n", b"")
    certificate_der = authority.certificate.public_bytes(serialization.Encoding.DER)
    assert base64.b64encode(certificate_der) in authority_part  # KeyInfo: the JWKS's x5c


def test_a_prefixed_namespace_gets_prefixed_elements() -> None:
    key = private_key("ec")
    cert = certificate(key)
    root = signed(key, cert)
    body = etree.tostring(root).replace(b"<", b"<inv:").replace(b"<inv:/", b"</inv:")
    body = body.replace(b"<inv:HDon>", f'<inv:HDon xmlns:inv="{NAMESPACE}">'.encode(), 1)
    # The signature's own elements keep their ds: prefix.
    body = body.replace(b"<inv:ds:", b"<ds:").replace(b"</inv:ds:", b"</ds:")
    document = parse_hdon(body)

    answer = coded_hdon(body, document, CODE, _authority(), data_digest(document))

    assert b'<inv:MCCQT Id="MCCQT-' in answer
    assert b"<inv:CQT><Signature xmlns=" in answer


@pytest.mark.parametrize("placeholder", [b"", b"<CQT/>", b"<CQT></CQT>", b"<CQT>\n</CQT>"])
def test_the_byte_search_finds_what_expat_finds(placeholder: bytes) -> None:
    from einvoice.hdon.answer import _offsets, _quick_offsets

    key = private_key("ec")
    body = etree.tostring(signed(key, certificate(key)))
    body = body.replace(b"</NBan></DSCKS>", b"</NBan>" + placeholder + b"</DSCKS>")

    assert _quick_offsets(body, "") == _offsets(body, "")


def test_ambiguous_bytes_are_left_to_expat() -> None:
    from einvoice.hdon.answer import _quick_offsets

    key = private_key("ec")
    body = etree.tostring(signed(key, certificate(key)))
    in_data = body.replace(b"<NDHDon>", b"<NDHDon><!-- <DSCKS> -->", 1)
    lookalike = body.replace(b"</NBan></DSCKS>", b"</NBan><CQTx/></DSCKS>")

    assert _quick_offsets(in_data, "") is None
    assert _quick_offsets(lookalike, "") is None


@pytest.mark.parametrize("data_id", ["data", "DLHDon_123", "a&b"])
def test_the_signed_info_is_written_in_its_canonical_form(data_id: str) -> None:
    """The authority's SignedInfo is written as text (signing/xml_signature.py): the bytes sent
    must be what exclusive C14N makes of them, or no verifier would agree with the signature."""
    key = private_key("ec")
    cert = certificate(key)
    body = etree.tostring(signed(key, cert, data_id=data_id))
    authority = _authority()
    document = parse_hdon(body)

    answer = coded_hdon(body, document, CODE, authority, data_digest(document))

    start = answer.index(b"<SignedInfo", answer.index(b"<CQT>"))
    written = answer[start : answer.index(b"</SignedInfo>", start) + len(b"</SignedInfo>")]
    signed_info = parse_hdon(answer).root.find(
        f"DSCKS/CQT/{{{DSIG}}}Signature/{{{DSIG}}}SignedInfo"
    )
    assert signed_info is not None
    assert etree.tostring(signed_info, method="c14n", exclusive=True) == written
    uris = _verify_authority(answer, authority)
    assert uris[0] == f"#{data_id}"
