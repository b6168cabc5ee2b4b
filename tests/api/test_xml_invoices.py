"""Invoices in the national XML format (HDon) end to end: a real service process and workers,
Cassandra, PostgreSQL, Redis. The pure parts (parsing, signatures, the answer's splicing) are
tested without servers in tests/einvoice/hdon and tests/signing."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk, jwt
from lxml import etree

from api.negotiation import representation
from einvoice.config import Settings
from einvoice.hdon.fields import hdon_of
from einvoice.hdon.parse import DSIG, NAMESPACE
from einvoice.invoice.samples import sample_invoice
from einvoice.registry import admin
from einvoice.timezone import VIETNAM
from signing.xml_signature import sign_hdon
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.api.test_invoices import Seller, make_seller
from tests.einvoice.hdon.support import PrivateKey, certificate, private_key

XML = {"Content-Type": "application/xml"}


@dataclass(frozen=True)
class XmlSeller:
    """A seller with a JWS key (its JSON invoices) and a registered certificate (its HDon)."""

    seller: Seller
    key: PrivateKey
    cert: x509.Certificate

    @property
    def tax_code(self) -> str:
        return self.seller.tax_code

    @property
    def headers(self) -> dict[str, str]:
        return self.seller.headers

    def invoice(self, number: int, **changes: Any) -> dict[str, Any]:
        today = dt.datetime.now(VIETNAM).date()
        return {
            **sample_invoice(seller_tax_code=self.tax_code, number=number, issued=today),
            **changes,
        }

    def hdon(
        self,
        number: int,
        *,
        data_id: str = "data",
        namespace: str | None = None,
        content: dict[str, Any] | None = None,
        key: PrivateKey | None = None,
        cert: x509.Certificate | None = None,
        signing_time: dt.datetime | None = None,
    ) -> bytes:
        root = hdon_of(content or self.invoice(number), data_id=data_id, namespace=namespace)
        signed = sign_hdon(root, key or self.key, cert or self.cert, signing_time=signing_time)
        return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


async def register_certificate(
    settings: Settings, tax_code: str, cert: x509.Certificate, kid: str
) -> None:
    pool = await create_pool(settings)
    try:
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        await admin.add_key(Registry(pool), tax_code, kid, None, certificate=pem)
    finally:
        await pool.close()


async def make_xml_seller(settings: Settings, kind: str = "ecdsa") -> XmlSeller:
    seller = await make_seller(settings)
    key = private_key(kind)
    cert = certificate(key)
    await register_certificate(settings, seller.tax_code, cert, f"{seller.tax_code}-cert")
    return XmlSeller(seller, key, cert)


@pytest.fixture
async def xml_seller(settings: Settings) -> XmlSeller:
    return await make_xml_seller(settings)


def _codes(response: httpx.Response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


async def jwks_of(http: httpx.AsyncClient) -> dict[str, Any]:
    return (await http.get("/.well-known/jwks.json")).json()  # type: ignore[no-any-return]


def check_authority_signature(answer: bytes, jwks: dict[str, Any]) -> str:
    """Verify DSCKS/CQT with libxmlsec1 against the JWKS's x5c certificates; the MCCQT."""
    root = etree.fromstring(answer)
    namespace = etree.QName(root).namespace
    tag = (lambda name: f"{{{namespace}}}{name}") if namespace else (lambda name: name)
    code_element = root.find(tag("MCCQT"))
    assert code_element is not None
    signature = root.find(f"{tag('DSCKS')}/{tag('CQT')}/{{{DSIG}}}Signature")
    assert signature is not None
    sent = signature.find(f".//{{{DSIG}}}X509Certificate")
    assert sent is not None
    assert sent.text is not None
    published = {key["x5c"][0] for key in jwks["keys"]}
    assert sent.text.strip() in published  # the same certificate as the JWKS carries
    uris = [ref.get("URI") for ref in signature.iter(f"{{{DSIG}}}Reference")]
    data = root.find(tag("DLHDon"))
    assert data is not None
    assert uris == [f"#{data.get('Id')}", f"#{code_element.get('Id')}"]
    der = base64.b64decode(sent.text)
    context = xmlsec.SignatureContext()
    xmlsec.tree.add_ids(root, ["Id"])
    context.key = xmlsec.Key.from_memory(
        x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM),
        xmlsec.constants.KeyDataFormatCertPem,
    )
    context.verify(signature)  # raises when the signature does not hold
    assert code_element.text is not None
    return code_element.text


def _data_bytes(document: bytes) -> bytes:
    start = document.index(b"<DLHDon") if b"<DLHDon" in document else -1
    assert start >= 0
    return document[start : document.index(b"</DLHDon>") + len(b"</DLHDon>")]


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
@pytest.mark.parametrize("namespace", [None, NAMESPACE])
async def test_an_hdon_is_coded_signed_stored_and_answered_as_xml(
    kind: str, namespace: str | None, settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_xml_seller(settings, kind)
    body = seller.hdon(1, data_id="Id-22884", namespace=namespace)
    response = await http.post("/v1/invoices", content=body, headers={**seller.headers, **XML})
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/xml")
    answer = response.content
    code = check_authority_signature(answer, await jwks_of(http))
    assert len(code) == 34
    assert code == code.upper()
    assert response.headers["X-Invoice-Code"] == code
    assert response.headers["Location"] == f"/v1/invoices/{code}"
    # DLHDon and the seller's signature exactly as sent.
    assert _data_bytes(answer) == _data_bytes(body)
    sent_signature = body[body.index(b"<NBan>", body.index(b"<DSCKS")) :]
    assert sent_signature[: sent_signature.index(b"</NBan>")] in answer
    # The JSON answer's fields, as headers: the token names the code and hash.
    token = jwt.JWT(
        jwt=response.headers["X-Invoice-Token"],
        key=jwk.JWKSet.from_json(orjson.dumps(await jwks_of(http))),
    )
    claims = orjson.loads(token.claims)
    assert claims["code"] == code
    assert claims["invoice_hash"] == response.headers["X-Invoice-Hash"]

    # A retry of the same XML: 200, the same bytes.
    again = await http.post("/v1/invoices", content=body, headers={**seller.headers, **XML})
    assert again.status_code == 200
    assert again.content == answer
    assert again.headers["X-Invoice-Token"] == response.headers["X-Invoice-Token"]

    # Looked up as XML: the stored answer; as JSON (the default): the invoice, marked xml.
    as_xml = await http.get(
        f"/v1/invoices/{code}", headers={**seller.headers, "Accept": "application/xml"}
    )
    assert as_xml.status_code == 200
    assert as_xml.headers["content-type"].startswith("application/xml")
    assert as_xml.content == answer
    as_json = (await http.get(f"/v1/invoices/{code}", headers=seller.headers)).json()
    assert as_json["format"] == "xml"
    assert as_json["seller_signature"] is None
    assert as_json["invoice_hash"] == response.headers["X-Invoice-Hash"]
    assert as_json["token"] == response.headers["X-Invoice-Token"]
    assert as_json["invoice"]["number"] == 1


async def test_an_hdon_signed_with_its_signing_time_is_accepted(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_xml_seller(settings, "rsa")
    body = seller.hdon(1, signing_time=dt.datetime.now(dt.UTC))
    assert b"<SigningTime>" in body
    response = await http.post("/v1/invoices", content=body, headers={**seller.headers, **XML})
    assert response.status_code == 201, response.text
    check_authority_signature(response.content, await jwks_of(http))
    assert b"<SigningTime>" in response.content  # the seller's signature as sent


async def test_text_xml_is_accepted_too(xml_seller: XmlSeller, http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/invoices",
        content=xml_seller.hdon(1),
        headers={**xml_seller.headers, "Content-Type": "text/xml; charset=utf-8"},
    )
    assert response.status_code == 201, response.text


async def test_content_changed_after_signing_is_refused(
    xml_seller: XmlSeller, http: httpx.AsyncClient
) -> None:
    body = xml_seller.hdon(1)
    tampered = body.replace(b"<SHDon>1</SHDon>", b"<SHDon>2</SHDon>")
    assert tampered != body
    response = await http.post(
        "/v1/invoices", content=tampered, headers={**xml_seller.headers, **XML}
    )
    assert response.status_code == 422
    assert "SIGNATURE_INVALID" in _codes(response)


async def test_unregistered_and_expired_certificates_are_refused(
    settings: Settings, xml_seller: XmlSeller, http: httpx.AsyncClient
) -> None:
    headers = {**xml_seller.headers, **XML}
    other_key = private_key("ecdsa")
    unknown = xml_seller.hdon(1, key=other_key, cert=certificate(other_key))
    response = await http.post("/v1/invoices", content=unknown, headers=headers)
    assert response.status_code == 422
    assert _codes(response) == ["SIGNATURE_CERTIFICATE_UNKNOWN"]
    assert response.json()["errors"][0]["field"].startswith("/HDon/DSCKS/NBan")

    old_key = private_key("ecdsa")
    expired = certificate(
        old_key,
        valid_from=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        valid_to=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
    )
    await register_certificate(settings, xml_seller.tax_code, expired, "expired")
    for _ in range(50):  # the new key reaches the process by notification
        response = await http.post(
            "/v1/invoices",
            content=xml_seller.hdon(2, key=old_key, cert=expired),
            headers=headers,
        )
        if _codes(response) != ["SIGNATURE_CERTIFICATE_UNKNOWN"]:
            break
        await asyncio.sleep(0.1)
    assert response.status_code == 422
    assert _codes(response) == ["SIGNATURE_CERTIFICATE_EXPIRED"]


async def test_a_wrapped_signature_is_refused(
    xml_seller: XmlSeller, http: httpx.AsyncClient
) -> None:
    """The signed DLHDon moved into the signature's Object, another DLHDon in its place: the
    Reference must name the DLHDon the service reads, so the signature does not count."""
    root = etree.fromstring(xml_seller.hdon(1))
    signed_data = root.find("DLHDon")
    assert signed_data is not None
    forged = etree.fromstring(etree.tostring(signed_data))
    forged.set("Id", "forged")
    number = forged.find("TTChung/SHDon")
    assert number is not None
    number.text = "9"
    signature = root.find(f"DSCKS/NBan/{{{DSIG}}}Signature")
    assert signature is not None
    holder = etree.SubElement(signature, f"{{{DSIG}}}Object")
    root.replace(signed_data, forged)
    holder.append(signed_data)
    body = etree.tostring(root, encoding="UTF-8")
    response = await http.post("/v1/invoices", content=body, headers={**xml_seller.headers, **XML})
    assert response.status_code == 422
    assert _codes(response)[0].startswith(("XML_SIGNATURE", "SIGNATURE"))
    symbol = xml_seller.invoice(9)["symbol"]
    lookup = await http.get(
        "/v1/invoices",
        params={
            "seller_tax_code": xml_seller.tax_code,
            "template": "1",
            "symbol": symbol,
            "number": 9,
        },
        headers=xml_seller.headers,
    )
    assert lookup.status_code == 404  # nothing was stored under the forged number


async def test_an_xml_bomb_is_refused_without_expanding(
    xml_seller: XmlSeller, http: httpx.AsyncClient
) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE HDon [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<HDon><DLHDon Id="data">&c;</DLHDon></HDon>'
    )
    response = await http.post("/v1/invoices", content=bomb, headers={**xml_seller.headers, **XML})
    assert response.status_code == 400
    assert _codes(response) == ["MALFORMED_XML"]
    deep = b"<HDon>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</HDon>"
    response = await http.post("/v1/invoices", content=deep, headers={**xml_seller.headers, **XML})
    assert response.status_code == 400
    assert _codes(response) == ["MALFORMED_XML"]


async def test_another_sellers_hdon_is_forbidden(
    settings: Settings, xml_seller: XmlSeller, http: httpx.AsyncClient
) -> None:
    other = await make_xml_seller(settings)
    response = await http.post(
        "/v1/invoices", content=other.hdon(1), headers={**xml_seller.headers, **XML}
    )
    assert response.status_code == 403
    assert response.json()["errors"][0] == {
        "code": "SELLER_MISMATCH",
        "message": "a business submits only invoices it sells",
        "field": "/HDon/DLHDon/NDHDon/NBan/MST",
    }


async def test_a_json_and_an_xml_invoice_under_one_number_conflict(
    xml_seller: XmlSeller, http: httpx.AsyncClient
) -> None:
    json_first = await http.post(
        "/v1/invoices", json=xml_seller.seller.submission(1), headers=xml_seller.headers
    )
    assert json_first.status_code == 201
    json_code = json_first.json()["code"]
    xml_after = await http.post(
        "/v1/invoices", content=xml_seller.hdon(1), headers={**xml_seller.headers, **XML}
    )
    assert xml_after.status_code == 409
    assert xml_after.headers["content-type"].startswith("application/json")
    error = xml_after.json()["errors"][0]
    assert error["code"] == "INVOICE_NUMBER_USED"
    assert error["field"] == "/HDon/DLHDon/TTChung/SHDon"
    assert xml_after.json()["existing"]["code"] == json_code

    xml_first = await http.post(
        "/v1/invoices", content=xml_seller.hdon(2), headers={**xml_seller.headers, **XML}
    )
    assert xml_first.status_code == 201
    json_after = await http.post(
        "/v1/invoices", json=xml_seller.seller.submission(2), headers=xml_seller.headers
    )
    assert json_after.status_code == 409
    assert json_after.json()["existing"]["code"] == xml_first.headers["X-Invoice-Code"]

    # A JSON invoice has no signed XML to give.
    refused = await http.get(
        f"/v1/invoices/{json_code}", headers={**xml_seller.headers, "Accept": "application/xml"}
    )
    assert refused.status_code == 406
    assert _codes(refused) == ["XML_NOT_AVAILABLE"]
    # JSON stays the default, and wins a tie.
    both = await http.get(
        f"/v1/invoices/{json_code}",
        headers={**xml_seller.headers, "Accept": "application/json, application/xml"},
    )
    assert both.status_code == 200
    assert both.json()["format"] == "json"


@pytest.mark.parametrize(
    ("accept", "xml"),
    [
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("application/xml", True),
        ("text/xml", True),
        ("application/json, application/xml", False),  # a tie: JSON, the default
        ("application/json;q=0.5, application/xml", True),
        ("application/xml;q=0.9, */*;q=0.1", True),
        ("application/xml;q=0", False),
        ("application/xml;q=nonsense", False),
    ],
)
def test_accept_chooses_xml_only_when_it_ranks_above_json(accept: str, xml: bool) -> None:
    assert (representation(accept) == "xml") is xml
