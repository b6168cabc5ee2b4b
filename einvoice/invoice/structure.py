"""Structural validation of a received invoice: pydantic's findings as our codes and pointers."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail
from einvoice.invoice.model import INVOICE, Invoice

# The fields that hold decimal strings: a JSON number there gets its own, explicit code.
DECIMAL_FIELDS = frozenset(
    {
        "quantity",
        "unit_price",
        "discount_rate",
        "discount_amount",
        "amount",
        "taxable_amount",
        "tax_amount",
        "amount_before_tax",
        "total_payable",
        "exchange_rate",
    }
)

_CODES = {
    "missing": ErrorCode.FIELD_REQUIRED,
    "extra_forbidden": ErrorCode.UNKNOWN_FIELD,
    "string_too_short": ErrorCode.TOO_SHORT,
    "string_too_long": ErrorCode.TOO_LONG,
    "too_short": ErrorCode.TOO_SHORT,
    "too_long": ErrorCode.TOO_MANY_LINES,
    "greater_than_equal": ErrorCode.OUT_OF_RANGE,
    "less_than_equal": ErrorCode.OUT_OF_RANGE,
    "literal_error": ErrorCode.INVALID_VALUE,
    "string_pattern_mismatch": ErrorCode.INVALID_FORMAT,
}


def parse_invoice(raw: Any, prefix: str = "") -> tuple[Invoice | None, list[ErrorDetail]]:
    """The invoice model, or None and every structural problem (pointers under `prefix`)."""
    try:
        return INVOICE.validate_python(raw), []
    except ValidationError as error:
        return None, [_detail(item, prefix) for item in error.errors(include_url=False)]


def _detail(item: Any, prefix: str) -> ErrorDetail:
    location = item["loc"]
    field = prefix + "".join(f"/{_escape(part)}" for part in location)
    kind = item["type"]
    name = next((part for part in reversed(location) if isinstance(part, str)), "")
    decimal = name in DECIMAL_FIELDS and not isinstance(location[-1], int)
    if decimal and kind == "string_type" and _is_json_number(item.get("input")):
        return ErrorDetail(
            ErrorCode.DECIMAL_MUST_BE_STRING,
            'money, quantities and rates are decimal strings such as "1500.5", not numbers',
            field,
        )
    if decimal and kind == "string_pattern_mismatch":
        return ErrorDetail(
            ErrorCode.INVALID_DECIMAL,
            "a decimal: at most 21 digits, at most 6 after the point",
            field,
        )
    code = _CODES.get(
        kind, ErrorCode.INVALID_TYPE if kind.endswith("_type") else ErrorCode.INVALID_VALUE
    )
    return ErrorDetail(code, str(item["msg"]), field)


def _is_json_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _escape(part: object) -> str:
    # RFC 6901: "~" and "/" inside a reference token are escaped.
    return str(part).replace("~", "~0").replace("/", "~1")
