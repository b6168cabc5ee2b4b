"""Tax-code check digits against real codes and altered ones (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from einvoice.invoice.taxcode import check_digit, tax_code_error

REAL_CODES = ["0100233488", "0314409058", "0302431595", "0107001729"]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_tax_codes_pass(code: str) -> None:
    assert tax_code_error(code) is None


@pytest.mark.parametrize("code", REAL_CODES)
def test_a_branch_of_a_real_code_passes(code: str) -> None:
    assert tax_code_error(f"{code}-001") is None


@pytest.mark.parametrize("code", REAL_CODES)
@pytest.mark.parametrize("position", range(10))
def test_changing_any_one_digit_of_a_real_code_is_caught(code: str, position: int) -> None:
    # Weights and the check digit make every single-digit change detectable, except where the
    # changed number would itself never be issued (also refused).
    for replacement in "0123456789":
        if replacement == code[position]:
            continue
        altered = code[:position] + replacement + code[position + 1 :]
        assert tax_code_error(altered) is not None, altered


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("010023348", "TAX_CODE_FORMAT"),
        ("01002334881", "TAX_CODE_FORMAT"),
        ("0100233488-01", "TAX_CODE_FORMAT"),
        ("0100233488-000", "TAX_CODE_FORMAT"),
        ("0100233488 ", "TAX_CODE_FORMAT"),
        ("01000000001", "TAX_CODE_FORMAT"),
        ("0100000000", "TAX_CODE_FORMAT"),  # sequence of zeros
        ("01002334A8", "TAX_CODE_FORMAT"),
        ("".join(chr(0xFF10 + int(d)) for d in "0100233488"), "TAX_CODE_FORMAT"),  # full-width
        ("0100233487", "TAX_CODE_CHECK_DIGIT"),
    ],
)
def test_malformed_codes_say_what_is_wrong(code: str, error: str) -> None:
    assert tax_code_error(code) == error


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_a_code_built_with_its_check_digit_passes_unless_never_issued(first_nine: str) -> None:
    digit = check_digit(first_nine)
    if digit is None or first_nine[2:] == "0000000":
        return
    assert tax_code_error(first_nine + str(digit)) is None
    assert tax_code_error(first_nine + str((digit + 1) % 10)) == "TAX_CODE_CHECK_DIGIT"
