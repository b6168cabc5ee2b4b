"""Vietnamese tax codes (MST): 10 digits, or 13 with a branch suffix `-NNN`, with a check digit.

Digits 1-2 are the province, 3-9 a sequence, 10 the check digit: weights (31, 29, 23, 19, 17, 13,
7, 5, 3) over digits 1-9, check = 10 - (sum mod 11); a result of 10 or 11 is never issued.
A sequence of all zeros and a branch `000` are invalid.
"""

from __future__ import annotations

import re
from operator import mul

from einvoice.error_codes import ErrorCode

_FORM = re.compile(r"([0-9]{10})(?:-([0-9]{3}))?")
_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)


def check_digit(first_nine: str) -> int | None:
    """The check digit of nine digits, or None when no code with them is ever issued."""
    total = sum(map(mul, map(int, first_nine), _WEIGHTS))
    check = 10 - total % 11
    return check if check < 10 else None


def tax_code_error(value: str) -> ErrorCode | None:
    """None for a valid tax code, else the error code that says what is wrong with it."""
    match = _FORM.fullmatch(value)
    if match is None:
        return ErrorCode.TAX_CODE_FORMAT
    base, branch = match.groups()
    if base[2:9] == "0000000" or branch == "000":
        return ErrorCode.TAX_CODE_FORMAT
    expected = check_digit(base[:9])
    if expected is None or expected != int(base[9]):
        return ErrorCode.TAX_CODE_CHECK_DIGIT
    return None
