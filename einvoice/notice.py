"""A seller's notice of cancellations and explanations (Form 04/SS-HĐĐT, issue #17): the
notice's shape, its canonical bytes and id, and the seller's signature over them. Pure: the keys
and the clock come in; storing a notice and changing invoices' statuses is the use case's.

A notice is `{"seller_tax_code", "issued_date", "items": [{"code", "action", "reason"}]}`, signed
as an invoice is: a detached JWS (RFC 7515, appendix F) over its RFC 8785 bytes, by a key
registered to the seller (signing/seller.py). Its id is derived from the seller and those bytes,
so the same notice sent again is the same notice and gets its first answer.

Errors point into the request `{"notice": ..., "signature": ...}` (`/notice/items/2/code`).
Rules: the seller's tax code well-formed; the date an ISO date, not after today in Vietnam and at
most 180 days before it (as an invoice's); 1 to MAX_ITEMS items, each a 34-character authority
code (upper-case hex) named once in the notice, `cancel` or `explain`, and a reason of 1 to
MAX_REASON characters (not only white space).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any, Literal, cast

from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail
from einvoice.invoice.rules import CLOCK_SKEW, MAX_BACKDATE, parse_date
from einvoice.invoice.taxcode import tax_code_error
from einvoice.timezone import VIETNAM
from signing.canonical import canonical_invoice_bytes, invoice_hash
from signing.seller import SellerKey, verify_seller_signature

MAX_ITEMS = 500
MAX_REASON = 255
ACTIONS = ("cancel", "explain")
_CODE = re.compile(r"[0-9A-F]{34}")
_FIELDS = {"seller_tax_code", "issued_date", "items"}
_ITEM_FIELDS = {"code", "action", "reason"}
# The namespace of notice ids (a UUID 5 of the seller and the notice's hash): fixed forever.
_NOTICE_IDS = uuid.UUID("6f0c3a52-4d7e-5b1a-9c3e-04000000f404")

Action = Literal["cancel", "explain"]


@dataclass(frozen=True)
class NoticeItem:
    code: str
    action: Action
    reason: str


@dataclass(frozen=True)
class Notice:
    seller_tax_code: str
    issued_date: dt.date
    items: tuple[NoticeItem, ...]
    canonical: bytes  # RFC 8785 bytes of the notice as sent: what the seller signs
    notice_hash: str  # SHA-256 of them, hex

    @property
    def notice_id(self) -> uuid.UUID:
        return notice_id(self.seller_tax_code, self.notice_hash)


def notice_id(seller_tax_code: str, notice_hash: str) -> uuid.UUID:
    """The id of a seller's notice with these canonical bytes: the same notice, the same id."""
    return uuid.uuid5(_NOTICE_IDS, f"{seller_tax_code}:{notice_hash}")


def parse_notice(raw: Any, now: dt.datetime) -> tuple[Notice | None, list[ErrorDetail]]:
    """The notice, or None and every problem found (pointers under `/notice`)."""
    if not isinstance(raw, dict):
        return None, [_problem(ErrorCode.INVALID_TYPE, "the notice is an object", "")]
    errors = [
        _problem(ErrorCode.UNKNOWN_FIELD, "not part of a notice", f"/{name}")
        for name in sorted(set(raw) - _FIELDS)
    ]
    seller = raw.get("seller_tax_code")
    if not isinstance(seller, str):
        errors.append(_required_text("/seller_tax_code", seller))
    elif (code := tax_code_error(seller)) is not None:
        errors.append(_problem(code, "not a valid tax code", "/seller_tax_code"))
    issued = _issued_date(raw.get("issued_date"), now, errors)
    items = _items(raw.get("items"), errors)
    if errors or not isinstance(seller, str) or issued is None:
        return None, errors
    canonical = canonical_invoice_bytes(raw)
    notice = Notice(seller, issued, tuple(items), canonical, invoice_hash(canonical))
    return notice, []


def verify_notice_signature(
    notice: Notice, signature: Any, *, keys: dict[str, SellerKey], now: dt.datetime
) -> list[ErrorDetail]:
    """The signature's problems (at `/signature`); empty when a key registered to the seller,
    valid on the notice's date, signed exactly these canonical bytes."""
    if not isinstance(signature, str):
        return [
            ErrorDetail(
                ErrorCode.FIELD_REQUIRED, "the seller's detached JWS is required", "/signature"
            )
        ]
    return verify_seller_signature(
        signature,
        notice.canonical,
        seller_tax_code=notice.seller_tax_code,
        issued=notice.issued_date,
        keys=keys,
        now=now,
    )


def _issued_date(value: Any, now: dt.datetime, errors: list[ErrorDetail]) -> dt.date | None:
    if not isinstance(value, str):
        errors.append(_required_text("/issued_date", value))
        return None
    issued = parse_date(value)
    if issued is None:
        errors.append(_problem(ErrorCode.INVALID_DATE, "a date, YYYY-MM-DD", "/issued_date"))
        return None
    today = (now + CLOCK_SKEW).astimezone(VIETNAM).date()
    if issued > today:
        errors.append(
            _problem(ErrorCode.ISSUE_DATE_IN_FUTURE, f"after today ({today})", "/issued_date")
        )
    elif issued < today - MAX_BACKDATE:
        errors.append(
            _problem(
                ErrorCode.ISSUE_DATE_TOO_OLD,
                f"more than {MAX_BACKDATE.days} days before today ({today})",
                "/issued_date",
            )
        )
    return issued


def _items(value: Any, errors: list[ErrorDetail]) -> list[NoticeItem]:
    if not isinstance(value, list):
        errors.append(
            _problem(
                ErrorCode.FIELD_REQUIRED if value is None else ErrorCode.INVALID_TYPE,
                "a list of items",
                "/items",
            )
        )
        return []
    if not 1 <= len(value) <= MAX_ITEMS:
        errors.append(_problem(ErrorCode.OUT_OF_RANGE, f"1 to {MAX_ITEMS} items", "/items"))
        return []
    items: list[NoticeItem] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"/items/{index}"
        if not isinstance(item, dict):
            errors.append(_problem(ErrorCode.INVALID_TYPE, "an item is an object", where))
            continue
        found = len(errors)
        errors.extend(
            _problem(ErrorCode.UNKNOWN_FIELD, "not part of an item", f"{where}/{name}")
            for name in sorted(set(item) - _ITEM_FIELDS)
        )
        code, action, reason = item.get("code"), item.get("action"), item.get("reason")
        if not isinstance(code, str):
            errors.append(_required_text(f"{where}/code", code))
        elif _CODE.fullmatch(code) is None:
            errors.append(
                _problem(
                    ErrorCode.INVALID_FORMAT,
                    "an authority code: 34 upper-case hexadecimal characters",
                    f"{where}/code",
                )
            )
        elif code in seen:
            errors.append(
                _problem(ErrorCode.INVALID_VALUE, "named earlier in this notice", f"{where}/code")
            )
        else:
            seen.add(code)
        if action not in ACTIONS:
            errors.append(
                _problem(
                    ErrorCode.FIELD_REQUIRED if action is None else ErrorCode.INVALID_VALUE,
                    "cancel or explain",
                    f"{where}/action",
                )
            )
        if not isinstance(reason, str):
            errors.append(_required_text(f"{where}/reason", reason))
        elif not reason.strip():
            errors.append(_problem(ErrorCode.TOO_SHORT, "a reason is required", f"{where}/reason"))
        elif len(reason) > MAX_REASON:
            errors.append(
                _problem(ErrorCode.TOO_LONG, f"at most {MAX_REASON} characters", f"{where}/reason")
            )
        if len(errors) == found:
            items.append(NoticeItem(cast(str, code), cast(Action, action), cast(str, reason)))
    return items


def _required_text(field: str, value: Any) -> ErrorDetail:
    if value is None:
        return _problem(ErrorCode.FIELD_REQUIRED, "required", field)
    return _problem(ErrorCode.INVALID_TYPE, "text", field)


def _problem(code: ErrorCode, message: str, field: str) -> ErrorDetail:
    return ErrorDetail(code, message, f"/notice{field}")
