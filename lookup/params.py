"""The lookups' inputs, checked before anything is read: an authority code, a seller's tax code,
an invoice's business key (seller, template, symbol, number). Pure.

The HTTP routes already bound lengths and types; these checks give the shapes, with the
catalogue's codes, so that every malformed input is a 422 naming its field (never a read, never
an audit row, never a 500), and the same answer for every caller: a shape says nothing about
whether an invoice or a seller exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail, InvalidRequest
from einvoice.invoice.taxcode import tax_code_error

CODE_LENGTH = 34
MAX_NUMBER = 99_999_999  # the invoice number's bound (einvoice/invoice/model.py)

_CODE = re.compile(r"[0-9A-F]{34}")
# The symbol and template as the invoice rules accept them (einvoice/invoice/rules.py; a test
# holds the two together): a lookup never refuses a key an invoice can have.
_SYMBOL = re.compile(r"[CK][0-9]{2}[TDLMNBGHX][A-Z]{2}")
_TEMPLATE = re.compile(r"[1-9]")
_ASCII_DIGITS = re.compile(r"[0-9]{1,8}")


def is_code(code: str) -> bool:
    """An authority code's shape: 34 upper-case hex digits."""
    return _CODE.fullmatch(code) is not None


def check_code(code: str, field: str = "/code") -> str:
    if not is_code(code):
        raise InvalidRequest(
            f"a code is {CODE_LENGTH} upper-case hexadecimal digits",
            code=ErrorCode.INVALID_FIELD,
            field=field,
        )
    return code


def tax_code_problem(tax_code: str, field: str) -> ErrorDetail | None:
    problem = tax_code_error(tax_code)
    if problem is None:
        return None
    return ErrorDetail(problem, problem.meaning, field)


def check_tax_code(tax_code: str, field: str = "/tax_code") -> str:
    problem = tax_code_problem(tax_code, field)
    if problem is not None:
        raise InvalidRequest(problem.message, details=[problem])
    return tax_code


@dataclass(frozen=True)
class BusinessKey:
    """The key an invoice is known by outside the authority: seller, template, symbol, number."""

    seller_tax_code: str
    template: str
    symbol: str
    number: int

    def subject(self) -> str:
        """As the officer audit records it."""
        return f"{self.seller_tax_code}/{self.template}/{self.symbol}/{self.number}"


def key_problems(
    seller_tax_code: str, template: str, symbol: str, number: int | str
) -> tuple[list[ErrorDetail], int]:
    """Every problem of a business key (with /seller_tax_code, /template, /symbol, /number),
    and the number as an int (0 when it is not one). The number may be text typed on the lookup
    page: ASCII digits only, as the JSON API's integers."""
    problems = [p for p in (tax_code_problem(seller_tax_code, "/seller_tax_code"),) if p]
    if not _TEMPLATE.fullmatch(template):
        problems.append(
            ErrorDetail(ErrorCode.TEMPLATE_INVALID, "the template is one digit 1-9", "/template")
        )
    if not _SYMBOL.fullmatch(symbol):
        problems.append(
            ErrorDetail(
                ErrorCode.SYMBOL_FORMAT,
                "the symbol is C or K, a 2-digit year, a type letter, 2 letters (e.g. C25TAA)",
                "/symbol",
            )
        )
    if isinstance(number, str):
        number = int(number) if _ASCII_DIGITS.fullmatch(number) else 0
    if not 1 <= number <= MAX_NUMBER:
        problems.append(
            ErrorDetail(
                ErrorCode.OUT_OF_RANGE, f"the number is a whole number 1 to {MAX_NUMBER}", "/number"
            )
        )
    return problems, number


def business_key(seller_tax_code: str, template: str, symbol: str, number: int) -> BusinessKey:
    """The key, checked: InvalidRequest naming every problem."""
    problems, number = key_problems(seller_tax_code, template, symbol, number)
    if problems:
        raise InvalidRequest("not an invoice's key", details=problems)
    return BusinessKey(seller_tax_code, template, symbol, number)
