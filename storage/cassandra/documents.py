"""The compact stored form of an authenticated invoice: `invoice_documents.document` and
`token_signature`. Pure code (no I/O), so it is tested without servers.

Format 1 (the first byte of `document`):
    0x01, then a raw deflate stream with the preset dictionary `_DICTIONARY_1` of
    canonical invoice \\0 seller's detached JWS \\0 token header JSON \\0 token payload JSON | empty
and the token's signature, raw, in `token_signature`.

Why: about 1.6 KB an invoice became well under 1 KB (docs/realtime.md, bytes per invoice).
- The invoice's canonical JSON (RFC 8785) is 2-3 KB of mostly member names and short values;
  deflate with a dictionary of those names saves about a third more than deflate alone on a
  document this small (543 bytes against 788 for the sample invoice).
- The token is stored once, and not as base64 text: its header is a few bytes once deflated, and
  its payload is left out whenever it is exactly `signing.authority.token_claims` of the stored
  invoice, code, hash and the second of `authenticated_at`: the encoder checks that byte for byte
  and otherwise keeps the payload, so decoding always gives back the very token that was issued.
- Canonical JSON escapes control characters and a JWS is base64url and dots, so `\\0` separates.
The dictionary is part of the format: it never changes. `decode` keeps reading every format ever
written (rows live ten years).

Format 2 (an XML invoice, HDon):
    0x02, the invoice hash (32 bytes), then format 1's deflate stream with an empty seller's JWS
An XML invoice's hash is the SHA-256 of DLHDon in exclusive C14N (signing/xml_signature.py), not
of the canonical JSON, so it is stored rather than recomputed; the seller's signature is inside
the signed XML, kept beside in `invoice_documents.signed_xml` (`encode_xml`: 0x01, then the coded
HDon as a raw deflate stream; read only when a caller asks for the XML).

Formats 3 and 4 (tokens carrying `iss`, from 2026-12):
    0x03 or 0x04, then what format 1 or 2 has, the deflate stream (with the preset dictionary
    `_DICTIONARY_3`) framing one more part: ... \\0 empty token payload \\0 issuer
The token's payload was left out, and `token_claims` rebuilds it with the issuer stored here. A
left-out payload is rebuilt from the claims its format names, never from today's: formats 1 and 2
rebuild the claims without `iss` that every token had before (so a stored token still decodes to
the bytes its signature covers after `token_claims` gained `iss`), 3 and 4 those with the issuer
the token itself carried (so changing EINVOICE_TOKEN_ISSUER changes no stored token either). The
encoder reads the issuer from the token's own payload; a payload that is not rebuilt exactly is
kept whole in format 1 or 2, which needs no issuer. The issuer costs about 4 bytes an invoice when
it is the default, which `_DICTIONARY_3` holds, and about 25 otherwise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from signing.authority import token_claims
from signing.jws import b64url_decode, b64url_encode

FORMAT_1 = 1
FORMAT_2 = 2  # an XML invoice: the hash stored explicitly
FORMAT_3 = 3  # format 1 whose left-out payload is rebuilt with the issuer stored after it
FORMAT_4 = 4  # format 2, likewise
_XML_FORMATS = (FORMAT_2, FORMAT_4)
_ISSUER_FORMATS = (FORMAT_3, FORMAT_4)
XML_FORMAT_1 = 1
_HASH_BYTES = 32
_SEPARATOR = b"\0"
# Level 6: 543 bytes for the 2,322-byte sample invoice against 654 at level 1 (788 at level 6
# without the dictionary), for about 25 us against 19; levels above 6 gain nothing on such
# documents (measured 2026-12-01).
_LEVEL = 6
# Member names in the order canonical JSON sorts them, with the punctuation around them, and the
# JWS headers' beginnings. Deflate codes a match's distance more cheaply the nearer it is, so the
# most frequent pieces (line members) come last.
_DICTIONARY_1 = (
    b'eyJhbGciOiJFUzI1NiIsImtpZCI6I{"alg":"ES256","kid":"","typ":"JWT"}'
    b'{"alg":"RS256","kid":"{"alg":"PS256","kid":"{"alg":"EdDSA","kid":"'
    b'"related":{"issued_date":"","nature":"replace","number":,"symbol":"","template":"'
    b'"exchange_rate":"","email":"","bank_account":"","citizen_id":"","discount_rate":"'
    b'"discount_amount":"","total_in_words":"'
    b"C\xc3\xb4ng ty TNHH C\xc3\xb4ng ty C\xe1\xbb\x95 ph\xe1\xba\xa7n Ph\xc6\xb0\xe1\xbb\x9dng "
    b"Qu\xe1\xba\xadn Huy\xe1\xbb\x87n Th\xc3\xa0nh ph\xe1\xbb\x91 TP. H\xe1\xbb\x93 Ch\xc3\xad "
    b"Minh H\xc3\xa0 N\xe1\xbb\x99i \xc4\x90\xc3\xa0 N\xe1\xba\xb5ng Vi\xe1\xbb\x87t Nam "
    b"D\xe1\xbb\x8bch v\xe1\xbb\xa5 "
    b'{"buyer":{"address":"","name":"","tax_code":"'
    b'"},"currency":"VND","issued_date":"20'
    b'","lines":[{"amount":"'
    b'"},"number":,"payment_method":"TM/CK","seller":{"address":"'
    b'","phone":"'
    b'"},"symbol":"C2'
    b'","template":"1","totals":{"amount_before_tax":"'
    b'","by_rate":[{"tax_amount":"'
    b'","taxable_amount":"'
    b'","vat_rate":"10%"}],"tax_amount":"'
    b'","total_payable":"'
    b'"}}'
    b'"},{"amount":"'
    b'","code":"'
    b'","name":"'
    b'","nature":1,"no":'
    b',"quantity":"'
    b'","unit":"'
    b'","unit_price":"'
    b'","vat_rate":"8%"},{"amount":"'
    b'","vat_rate":"10%"},{"amount":"'
)
# Formats 3 and 4: format 1's dictionary and the default issuer (EINVOICE_TOKEN_ISSUER) when
# they were made, the last part of nearly every document, so it costs a few bytes.
_DICTIONARY_3 = _DICTIONARY_1 + b"https://einvoice.gdt.gov.vn"


class DocumentFormatError(ValueError):
    """A stored document this code cannot read: a bug or a corrupt row, never request input."""


@dataclass(frozen=True)
class StoredDocument:
    """The two columns of `invoice_documents` that hold the invoice and its answer."""

    document: bytes
    token_signature: bytes


@dataclass(frozen=True)
class DecodedDocument:
    canonical: bytes
    invoice: dict[str, Any]
    invoice_hash: str
    seller_signature: str
    token: str
    xml: bool  # submitted as HDon: its signed XML is in `signed_xml`


def encode(
    *,
    canonical: bytes,
    invoice: Mapping[str, Any],
    seller_signature: str,
    token: str,
    code: str,
    invoice_hash: str,
    authenticated_at: dt.datetime,
    xml: bool = False,
) -> StoredDocument:
    """The stored form; `invoice` is the parsed `canonical` (its values rebuild the payload).
    `xml`: an HDon invoice (format 2 or 4), whose `seller_signature` is empty."""
    header_b64, payload_b64, signature_b64 = token.encode("ascii").split(b".")
    payload = b64url_decode(payload_b64)
    issuer = _issuer(payload)
    left_out = _payload(invoice, issuer, code, invoice_hash, authenticated_at) == payload
    parts = [canonical, seller_signature.encode("ascii"), b64url_decode(header_b64)]
    parts.append(b"" if left_out else payload)
    if left_out and issuer is not None:
        form = FORMAT_4 if xml else FORMAT_3
        parts.append(issuer.encode("ascii"))
    else:  # the payload kept whole, or rebuilt without `iss` (a token from before it)
        form = FORMAT_2 if xml else FORMAT_1
    dictionary = _DICTIONARY_3 if form in _ISSUER_FORMATS else _DICTIONARY_1
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15, zdict=dictionary)
    deflated = compressor.compress(_SEPARATOR.join(parts)) + compressor.flush()
    head = bytes((form,)) + (bytes.fromhex(invoice_hash) if xml else b"")
    return StoredDocument(head + deflated, b64url_decode(signature_b64))


def decode(
    document: bytes, token_signature: bytes, *, code: str, authenticated_at: dt.datetime
) -> DecodedDocument:
    form = document[0] if document else None
    if form not in (FORMAT_1, FORMAT_2, FORMAT_3, FORMAT_4):
        raise DocumentFormatError(f"unknown document format {document[:1].hex()} for {code}")
    xml = form in _XML_FORMATS
    start = 1 + _HASH_BYTES if xml else 1
    with_issuer = form in _ISSUER_FORMATS
    decompressor = zlib.decompressobj(-15, zdict=_DICTIONARY_3 if with_issuer else _DICTIONARY_1)
    try:
        framed = decompressor.decompress(document[start:]) + decompressor.flush()
        canonical, seller_signature, header, payload, *issued_by = framed.split(_SEPARATOR)
        issuer = issued_by.pop().decode("ascii") if with_issuer else None
        if issued_by or (with_issuer and (payload or not issuer)):
            raise ValueError("not the parts of its format")
    except (zlib.error, ValueError, IndexError) as error:
        raise DocumentFormatError(f"the stored document of {code} is corrupt") from error
    invoice: dict[str, Any] = orjson.loads(canonical)
    digest = document[1:start].hex() if xml else hashlib.sha256(canonical).hexdigest()
    if not payload:
        payload = _payload(invoice, issuer, code, digest, authenticated_at)
    token = b".".join(
        (b64url_encode(header), b64url_encode(payload), b64url_encode(token_signature))
    )
    return DecodedDocument(
        canonical, invoice, digest, seller_signature.decode("ascii"), token.decode("ascii"), xml
    )


def encode_xml(signed_xml: bytes) -> bytes:
    """`invoice_documents.signed_xml`: the coded HDon, deflated (about a third of its size: the
    certificates' base64 is most of what stays)."""
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15)
    return bytes((XML_FORMAT_1,)) + compressor.compress(signed_xml) + compressor.flush()


def decode_xml(stored: bytes, *, code: str) -> bytes:
    if not stored or stored[0] != XML_FORMAT_1:
        raise DocumentFormatError(f"unknown XML format {stored[:1].hex()} for {code}")
    decompressor = zlib.decompressobj(-15)
    try:
        return decompressor.decompress(stored[1:]) + decompressor.flush()
    except zlib.error as error:
        raise DocumentFormatError(f"the stored XML of {code} is corrupt") from error


def code_bytes(code: str) -> bytes:
    """A code's 34 hex characters as the 17 bytes stored."""
    return bytes.fromhex(code)


def code_text(stored: bytes) -> str:
    return stored.hex().upper()


def _payload(
    invoice: Mapping[str, Any],
    issuer: str | None,
    code: str,
    invoice_hash: str,
    authenticated_at: dt.datetime,
) -> bytes:
    if authenticated_at.tzinfo is None:  # the driver returns naive UTC times
        authenticated_at = authenticated_at.replace(tzinfo=dt.UTC)
    iat = int(authenticated_at.timestamp())
    claims = token_claims(invoice, issuer=issuer, code=code, invoice_hash=invoice_hash, iat=iat)
    return orjson.dumps(claims)


def _issuer(payload: bytes) -> str | None:
    """The token's `iss` when it is ASCII text without a NUL (which the framing could not hold;
    the configured issuer always is); None otherwise, and then the payload is not rebuilt."""
    try:
        claims = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    if isinstance(issuer, str) and issuer and issuer.isascii() and "\0" not in issuer:
        return issuer
    return None
