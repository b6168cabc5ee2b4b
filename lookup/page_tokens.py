"""Page tokens of a seller's listing, signed, and the month arithmetic of its walk. Pure.

A token says where the next page of one listing starts: the month being walked and the position
in it (rows strictly before (issued date, code) come next, the listing's order). It is opaque
to clients and bound to its listing: an HMAC-SHA256 under `EINVOICE_PAGE_TOKEN_SECRET` covers
the position together with the listing's seller tax code, range (`from`, `to`, as asked) and
`limit`, so a token cannot be forged, edited or used for another listing (another seller, range
or limit): such a token is INVALID_FIELD on /page_token, never a read elsewhere.

Format 1 (URL-safe base64, unpadded: 56 characters, 34 at the start of a month):

    version (1 byte, = 1) | month yyyymm (4 bytes) | issued date as a proleptic ordinal (4 bytes)
    | code (its hex digits as bytes: 17, or none at a month's start) | tag (16 bytes)

    tag = HMAC-SHA256(secret, "einvoice page token 1" \\n tax code \\n from \\n to \\n limit \\n
                      everything before the tag)[:16]

A tag of 128 bits is far beyond guessing (each guess costs a request). A new format takes the
next version number; tokens of an unknown version, or signed under another secret (the secret
was rotated), are refused, and the client starts its listing again from the first page.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

from pydantic import SecretStr

from einvoice.error_codes import ErrorCode
from einvoice.errors import InvalidRequest

# (issued date, code): the listing's position, rows strictly before it come next.
Position = tuple[dt.date, str]

VERSION = 1
_HEADER = struct.Struct(">BII")  # version, month, issued date's ordinal
_TAG_BYTES = 16
_MAX_CODE_BYTES = 17  # a code is 34 upper-case hex digits (signing/authority.py's new_code)
_DOMAIN = b"einvoice page token 1"
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
# Longest token of format 1: the header, the longest code, the tag, in base64.
MAX_TOKEN_LENGTH = -(-(_HEADER.size + _MAX_CODE_BYTES + _TAG_BYTES) * 4 // 3)


def month_of(day: dt.date) -> int:
    """The month as the seller-month index keys it: yyyymm."""
    return day.year * 100 + day.month


def previous_month(month: int) -> int:
    year, number = divmod(month, 100)
    return (year - 1) * 100 + 12 if number == 1 else month - 1


@dataclass(frozen=True)
class Listing:
    """What a token is bound to: one listing as the client asked for it."""

    tax_code: str
    date_from: dt.date
    date_to: dt.date
    limit: int
    whose: str = "seller"  # seller | buyer: whose invoices the listing is

    def context(self) -> bytes:
        # Every field is free of newlines (a checked tax code, ISO dates, a number), so the
        # joined text names exactly one listing. A seller listing's context is as it always was
        # (tokens issued before buyers were listed stay good); a buyer's has one more line.
        fields = (self.tax_code, self.date_from.isoformat(), self.date_to.isoformat())
        kind = () if self.whose == "seller" else (self.whose.encode(),)
        return b"\n".join((_DOMAIN, *kind, *(f.encode() for f in fields), str(self.limit).encode()))


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: the month being walked and the position in it."""

    month: int
    before: Position


class PageTokens:
    """Signs and checks page tokens under one secret (shared by every API process)."""

    def __init__(self, secret: SecretStr) -> None:
        self._key = secret.get_secret_value().encode()

    def _tag(self, listing: Listing, body: bytes) -> bytes:
        mac = hmac.new(self._key, listing.context() + b"\n" + body, hashlib.sha256)
        return mac.digest()[:_TAG_BYTES]

    def encode(self, listing: Listing, cursor: Cursor) -> str:
        day, code = cursor.before
        body = _HEADER.pack(VERSION, cursor.month, day.toordinal()) + bytes.fromhex(code)
        raw = body + self._tag(listing, body)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, listing: Listing, token: str) -> Cursor:
        """The cursor of a token of this listing; InvalidRequest on /page_token otherwise."""
        raw = _unbase64(token)
        if raw is None or len(raw) < _HEADER.size + _TAG_BYTES:
            raise not_a_page_token()
        body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if not hmac.compare_digest(tag, self._tag(listing, body)):
            raise not_a_page_token()
        version, month, ordinal = _HEADER.unpack_from(body)
        try:
            day, code = dt.date.fromordinal(ordinal), body[_HEADER.size :].hex().upper()
        except (ValueError, OverflowError) as error:  # signed by us: only with another format
            raise not_a_page_token() from error
        first, last = month_of(listing.date_from), month_of(listing.date_to)
        if version != VERSION or not first <= month <= last:
            raise not_a_page_token()
        return Cursor(month, (day, code))


def _unbase64(token: str) -> bytes | None:
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):  # a length no encoding has (4n + 1 characters)
        return None


def not_a_page_token() -> InvalidRequest:
    return InvalidRequest(
        "not a page token of this listing", code=ErrorCode.INVALID_FIELD, field="/page_token"
    )
