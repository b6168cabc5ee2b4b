"""Page tokens of a seller's listing, and the month arithmetic of its walk. Pure.

A token is opaque to clients: URL-safe base64 (unpadded) of `{"m": month, "d": issued date,
"c": code}`, the month being walked and the last row answered. The next page continues in that
month strictly before (date, code), the listing's order. Tokens already handed out must keep
decoding, so the format only ever gains optional keys.
"""

from __future__ import annotations

import base64
import datetime as dt

import orjson

from einvoice.error_codes import ErrorCode
from einvoice.errors import InvalidRequest

# (issued date, code): the listing's position, rows strictly before it come next.
Position = tuple[dt.date, str]


def month_of(day: dt.date) -> int:
    """The month as the seller-month index keys it: yyyymm."""
    return day.year * 100 + day.month


def previous_month(month: int) -> int:
    year, number = divmod(month, 100)
    return (year - 1) * 100 + 12 if number == 1 else month - 1


def encode_page_token(month: int, issued_date: str, code: str) -> str:
    raw = orjson.dumps({"m": month, "d": issued_date, "c": code})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[int, Position]:
    """(month, position) of a token; InvalidRequest on /page_token when it is not one of ours."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["m"]), (dt.date.fromisoformat(data["d"]), str(data["c"]))
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as error:
        raise InvalidRequest(
            "not a page token of this listing", code=ErrorCode.INVALID_FIELD, field="/page_token"
        ) from error
