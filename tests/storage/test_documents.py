"""The compact stored form of an invoice (pure): it always gives back the very bytes issued."""

from __future__ import annotations

import base64
import datetime as dt
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from einvoice.invoice.samples import sample_invoice
from signing.authority import AuthorityKeyRing, generate_private_key_pem, new_code, token_claims
from signing.canonical import canonical_invoice_bytes, invoice_hash
from signing.jws import b64url_decode
from storage.cassandra import documents
from tests.signing.keys import ISSUER

RING = AuthorityKeyRing.from_pems({"cqt-1": generate_private_key_pem()}, "cqt-1")
NOW = dt.datetime(2026, 11, 30, 8, 15, 42, 123456, tzinfo=dt.UTC)
SELLER_SIGNATURE = "eyJhbGciOiJFUzI1NiIsImtpZCI6InNlbGxlci1lczI1NiJ9.." + "A" * 86


def _encoded(
    invoice: dict[str, Any],
    token: str | None = None,
    code: str | None = None,
    ring: AuthorityKeyRing = RING,
    at: dt.datetime = NOW,
) -> tuple[documents.StoredDocument, bytes, str, str]:
    canonical = canonical_invoice_bytes(invoice)
    digest = invoice_hash(canonical)
    code = code or new_code("00")
    token = token or ring.sign_token(
        token_claims(
            invoice, issuer=ISSUER, code=code, invoice_hash=digest, iat=int(at.timestamp())
        )
    )
    stored = documents.encode(
        canonical=canonical,
        invoice=invoice,
        seller_signature=SELLER_SIGNATURE,
        token=token,
        code=code,
        invoice_hash=digest,
        authenticated_at=at,
    )
    return stored, canonical, token, code


def test_a_document_decodes_to_the_invoice_signature_and_token_as_issued() -> None:
    invoice = sample_invoice()
    stored, canonical, token, code = _encoded(invoice)

    # As Cassandra gives it back: milliseconds, no time zone.
    read_at = NOW.replace(tzinfo=None, microsecond=123000)
    decoded = documents.decode(
        stored.document, stored.token_signature, code=code, authenticated_at=read_at
    )

    assert decoded.canonical == canonical
    assert decoded.invoice == invoice
    assert decoded.invoice_hash == invoice_hash(canonical)
    assert decoded.seller_signature == SELLER_SIGNATURE
    assert decoded.token == token
    assert RING.verify_token(decoded.token) is not None


def test_the_token_payload_is_not_stored_when_the_invoice_rebuilds_it() -> None:
    invoice = sample_invoice()
    stored, _, _token, _ = _encoded(invoice)
    other_claims = token_claims(
        invoice, issuer=ISSUER, code=new_code("00"), invoice_hash="0" * 64, iat=1
    )
    kept, _, _, _ = _encoded(invoice, token=RING.sign_token({**other_claims, "extra": 1}))

    # The rebuilt payload leaves only the signature (64 bytes) and a few header bytes.
    assert len(stored.token_signature) == 64
    assert len(kept.document) > len(stored.document) + 50  # its payload, deflated
    assert len(stored.document) < len(canonical_invoice_bytes(invoice)) // 3


def test_a_token_that_cannot_be_rebuilt_is_kept_whole() -> None:
    invoice = sample_invoice()
    code = new_code("00")
    claims = token_claims(invoice, issuer=ISSUER, code=code, invoice_hash="f" * 64, iat=12)
    token = RING.sign_token({**claims, "note": "issued by an older release"})
    stored, _, _, _ = _encoded(invoice, token=token, code=code)

    decoded = documents.decode(
        stored.document, stored.token_signature, code=code, authenticated_at=NOW
    )

    assert decoded.token == token


@pytest.mark.parametrize("pem_kind", ["ed25519", "rsa"])
def test_tokens_of_other_authority_key_kinds_round_trip(pem_kind: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    key = (
        ed25519.Ed25519PrivateKey.generate()
        if pem_kind == "ed25519"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ring = AuthorityKeyRing.from_pems({"k": pem}, "k")
    at = dt.datetime.fromtimestamp(7.5, dt.UTC)
    stored, _, token, code = _encoded(sample_invoice(number=77), ring=ring, at=at)

    decoded = documents.decode(
        stored.document, stored.token_signature, code=code, authenticated_at=at
    )

    assert decoded.token == token


@settings(max_examples=50, deadline=None)
@given(
    lines=st.integers(min_value=1, max_value=40),
    number=st.integers(min_value=1, max_value=99_999_999),
    buyer=st.one_of(st.none(), st.just("0314409058")),
)
def test_any_sample_shape_round_trips(lines: int, number: int, buyer: str | None) -> None:
    invoice = sample_invoice(lines=lines, number=number, buyer_tax_code=buyer)
    stored, canonical, token, code = _encoded(invoice)

    decoded = documents.decode(
        stored.document, stored.token_signature, code=code, authenticated_at=NOW
    )

    assert (decoded.canonical, decoded.token) == (canonical, token)


def test_an_unknown_format_or_corrupt_document_is_an_error_not_a_guess() -> None:
    stored, _, _, code = _encoded(sample_invoice())

    with pytest.raises(documents.DocumentFormatError, match="unknown document format"):
        documents.decode(b"\x09" + stored.document[1:], b"", code=code, authenticated_at=NOW)
    with pytest.raises(documents.DocumentFormatError, match="corrupt"):
        documents.decode(stored.document[:40], b"", code=code, authenticated_at=NOW)


def test_codes_are_stored_as_their_17_bytes() -> None:
    code = new_code("0A")

    assert len(documents.code_bytes(code)) == 17
    assert documents.code_text(documents.code_bytes(code)) == code


def test_an_xml_invoice_keeps_its_own_hash_and_its_signed_xml() -> None:
    """An HDon's hash is over DLHDon, not the canonical JSON: format 2 stores it."""
    invoice = sample_invoice()
    canonical = canonical_invoice_bytes(invoice)
    xml_digest = "ab" * 32
    code = new_code("00")
    token = RING.sign_token(
        token_claims(
            invoice, issuer=ISSUER, code=code, invoice_hash=xml_digest, iat=int(NOW.timestamp())
        )
    )
    stored = documents.encode(
        canonical=canonical,
        invoice=invoice,
        seller_signature="",
        token=token,
        code=code,
        invoice_hash=xml_digest,
        authenticated_at=NOW,
        xml=True,
    )

    decoded = documents.decode(
        stored.document, stored.token_signature, code=code, authenticated_at=NOW
    )

    assert stored.document[0] == documents.FORMAT_4  # format 2 with the token's issuer
    assert decoded.xml
    assert decoded.invoice_hash == xml_digest
    assert decoded.token == token  # its payload rebuilt with the stored hash
    assert decoded.seller_signature == ""
    signed = (
        b'<?xml version="1.0" encoding="UTF-8"?><HDon>'
        + b"<x>Vi\xe1\xbb\x87t</x>" * 50
        + b"</HDon>"
    )
    kept = documents.encode_xml(signed)
    assert len(kept) < len(signed) // 3
    assert documents.decode_xml(kept, code=code) == signed
    with pytest.raises(documents.DocumentFormatError):
        documents.decode_xml(b"\x07" + kept[1:], code=code)


# Documents as the release before tokens carried `iss` wrote them (formats 1 and 2, the payload
# left out), with an Ed25519 authority key so that the token's signature is fixed too. They were
# written by that code, not by this one: decoding them must still give the tokens it issued.
_BEFORE_ISS = orjson.loads((Path(__file__).parent / "documents_before_iss.json").read_bytes())


@pytest.mark.parametrize("vector", _BEFORE_ISS["documents"], ids=lambda v: f"format {v['format']}")
def test_documents_stored_before_tokens_carried_iss_decode_to_the_tokens_issued(
    vector: dict[str, Any],
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    document = base64.b64decode(vector["document"])
    at = dt.datetime.fromisoformat(vector["authenticated_at"])

    decoded = documents.decode(
        document,
        base64.b64decode(vector["token_signature"]),
        code=vector["code"],
        authenticated_at=at,
    )

    assert document[0] == vector["format"]
    assert decoded.token == vector["token"]
    assert decoded.invoice_hash == vector["invoice_hash"]
    header, payload, signature = decoded.token.encode().split(b".")
    public = ed25519.Ed25519PublicKey.from_public_bytes(
        b64url_decode(_BEFORE_ISS["authority_jwk"]["x"])
    )
    public.verify(b64url_decode(signature), header + b"." + payload)  # raises if it does not
    assert "iss" not in orjson.loads(b64url_decode(payload))
    # Stored again (a data step copying rows), it keeps its format and its token.
    again = documents.encode(
        canonical=decoded.canonical,
        invoice=decoded.invoice,
        seller_signature=decoded.seller_signature,
        token=decoded.token,
        code=vector["code"],
        invoice_hash=decoded.invoice_hash,
        authenticated_at=at,
        xml=decoded.xml,
    )
    assert again.document == document


def test_a_token_with_iss_leaves_its_payload_out_and_keeps_its_issuer() -> None:
    invoice = sample_invoice()
    default_issuer = "https://einvoice.gdt.gov.vn"  # EINVOICE_TOKEN_ISSUER's default
    code = new_code("00")
    before, _, _, _ = _encoded(invoice, token=_token(invoice, None, code), code=code)
    by_default, _, _, _ = _encoded(invoice, token=_token(invoice, default_issuer, code), code=code)
    other = _token(invoice, "https://hoadon.example.vn/cqt", code)
    by_other, _, _, _ = _encoded(invoice, token=other, code=code)

    decoded = documents.decode(
        by_other.document, by_other.token_signature, code=code, authenticated_at=NOW
    )

    assert before.document[0] == documents.FORMAT_1
    assert by_default.document[0] == by_other.document[0] == documents.FORMAT_3
    assert decoded.token == other
    assert orjson.loads(b64url_decode(decoded.token.split(".")[1]))["iss"] == (
        "https://hoadon.example.vn/cqt"
    )
    # The default issuer is in the format's dictionary: a few bytes; another about 25.
    assert len(by_default.document) - len(before.document) <= 6
    assert len(by_other.document) - len(before.document) <= 35


@pytest.mark.parametrize("issuer", ["https://cơquanthuế.vn", "a\0b", ""])
def test_an_issuer_the_framing_cannot_hold_keeps_the_payload_whole(issuer: str) -> None:
    invoice = sample_invoice()
    code = new_code("00")
    token = _token(invoice, issuer, code)
    stored, _, _, _ = _encoded(invoice, token=token, code=code)

    decoded = documents.decode(
        stored.document, stored.token_signature, code=code, authenticated_at=NOW
    )

    assert stored.document[0] == documents.FORMAT_1
    assert decoded.token == token


def test_a_format_3_document_without_its_issuer_is_corrupt() -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=documents._DICTIONARY_3)
    framed = b"\0".join((canonical_invoice_bytes(sample_invoice()), b"", b"{}", b""))
    document = bytes((documents.FORMAT_3,)) + compressor.compress(framed) + compressor.flush()

    with pytest.raises(documents.DocumentFormatError, match="corrupt"):
        documents.decode(document, b"", code=new_code("00"), authenticated_at=NOW)


def _token(invoice: dict[str, Any], issuer: str | None, code: str) -> str:
    digest = invoice_hash(canonical_invoice_bytes(invoice))
    claims = token_claims(
        invoice, issuer=issuer, code=code, invoice_hash=digest, iat=int(NOW.timestamp())
    )
    return RING.sign_token(claims)
