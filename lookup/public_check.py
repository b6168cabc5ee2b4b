"""The public check of an invoice, the parts without I/O: what a person gives (the fields printed
on the invoice, or its token), which of them are required and their shapes, how amounts compare,
the answer, which never carries the buyer, and the URL of the check of a token. The reads are
the service's (lookup/service.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail, InvalidRequest
from einvoice.lifecycle import VOID
from lookup.params import BusinessKey, key_problems

# Rate limit of the public check, by client address (api/ratelimit.py's "public" class).
PUBLIC_RATE_CLASS = "public"
PUBLIC_RATE_KIND = "verify"

_REQUIRED = ("seller_tax_code", "template", "symbol", "number", "total_payable")


@dataclass(frozen=True)
class PrintedFields:
    """The fields printed on an invoice, or its token (the token, when given, wins)."""

    seller_tax_code: str | None = None
    template: str | None = None
    symbol: str | None = None
    number: int | str | None = None  # an int from the JSON API, the text typed on the page
    total_payable: str | None = None
    token: str | None = None

    def require_printed(self) -> BusinessKey:
        """The printed key, checked. InvalidRequest naming every missing printed field
        (FIELD_REQUIRED each) or, when none is missing, every malformed one (lookup/params.py)."""
        missing = [name for name in _REQUIRED if getattr(self, name) in (None, "")]
        if missing:
            raise InvalidRequest(
                "give the printed fields, or a token",
                details=[
                    ErrorDetail(ErrorCode.FIELD_REQUIRED, f"{name} is required", f"/{name}")
                    for name in missing
                ],
            )
        seller, template, symbol = str(self.seller_tax_code), str(self.template), str(self.symbol)
        problems, number = key_problems(seller, template, symbol, self.number or 0)
        if problems:
            raise InvalidRequest("these are not an invoice's printed fields", details=problems)
        return BusinessKey(seller, template, symbol, number)


@dataclass(frozen=True)
class PublicAnswer:
    """Whether an authentic invoice matches and still stands; if one matches, its code, issue
    date and status only (and the code of its replacement). A replaced or cancelled invoice is
    not valid (docs/lifecycle.md): `valid: false` with its status, so a buyer learns why."""

    valid: bool
    code: str | None = None
    issued_date: str | None = None
    status: str | None = None
    replaced_by: str | None = None

    @classmethod
    def of(cls, document: dict[str, Any] | None) -> PublicAnswer:
        if document is None:
            return cls(valid=False)
        status = document["status"]
        return cls(
            valid=status not in VOID,
            code=document["code"],
            issued_date=document["invoice"]["issued_date"],
            status=status,
            replaced_by=document.get("replaced_by"),
        )

    def as_json(self) -> dict[str, Any]:
        if self.code is None:
            return {"valid": False}
        answer: dict[str, Any] = {
            "valid": self.valid,
            "code": self.code,
            "issued_date": self.issued_date,
            "status": self.status,
        }
        if self.replaced_by is not None:
            answer["replaced_by"] = self.replaced_by
        return answer


def verify_url(page_url: str, token: str) -> str:
    """Where anyone checks `token` on the lookup page (GET /): the real-time answer's
    `verify_url`, and what the QR codes of the page and the invoice view encode. `page_url` is
    the page's public base URL (einvoice.config.Settings.lookup_page_url). A token is URL-safe
    already (base64url and dots); it is encoded anyway, so the URL stays one whatever it holds."""
    return f"{page_url}/?token={quote(token, safe='')}"


def same_amount(stored: str, given: str | None) -> bool:
    """Whether the amount typed (`given`) is the stored one, written as Vietnamese write amounts
    or as English does: `1.100.000`, `1 100 000` and `1,100,000` alike (issue #18), and a
    decimal part after `,` (Vietnamese) or `.` (English). When the text reads two ways (`1.100`:
    1100 in Vietnamese, 1.1 in English), it matches if either reading does: the other printed
    fields must match too, so the looser amount opens no door."""
    return given is not None and Decimal(stored) in amount_readings(given)


# Grouping separators people type besides `.` and `,`: spaces, no-break spaces, thin spaces.
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")
_GROUPED = re.compile(r"\d{1,3}(?:X\d{3})+")


def amount_readings(text: str) -> set[Decimal]:
    """Every amount `text` can mean (empty when none): digits with at most one decimal
    separator, thousands grouped by spaces, `.` or `,` in groups of three."""
    compact = text.strip().translate(_SPACES)
    if not compact or compact.startswith(("-", "+")):
        return set()
    readings: set[Decimal] = set()
    for thousands, decimal in ((".", ","), (",", ".")):
        has_fraction = decimal in compact
        whole, _, fraction = compact.rpartition(decimal) if has_fraction else (compact, "", "")
        if not whole and has_fraction:  # ",5": no whole part
            continue
        if thousands in whole and _GROUPED.fullmatch(whole.replace(thousands, "X")) is None:
            continue
        digits = whole.replace(thousands, "")
        if not digits.isascii() or not digits.isdigit():
            continue
        if has_fraction and (not fraction.isascii() or not fraction.isdigit()):
            continue
        readings.add(Decimal(f"{digits}.{fraction}" if fraction else digits))
    return readings
