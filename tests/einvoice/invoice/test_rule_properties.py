"""Property-based tests: generated valid invoices pass, and each kind of damage is caught."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.einvoice.invoice.strategies import invoices
from tests.einvoice.invoice.support import NOW, problems

PROPERTY = settings(max_examples=50, deadline=None)


def _codes(invoice: dict[str, Any]) -> set[str]:
    return {code for code, _ in problems(invoice)}


@PROPERTY
@given(invoices())
def test_generated_invoices_pass_every_rule(invoice: dict[str, Any]) -> None:
    assert problems(invoice) == []


@PROPERTY
@given(invoices(), st.data())
def test_a_line_amount_off_by_more_than_a_dong_is_caught(
    invoice: dict[str, Any], data: st.DataObject
) -> None:
    goods = [i for i, line in enumerate(invoice["lines"]) if line["nature"] != 4]
    index = data.draw(st.sampled_from(goods))
    delta = data.draw(st.integers(min_value=2, max_value=10**9) | st.integers(-(10**9), -2))
    line = invoice["lines"][index]
    assume(Decimal(line["amount"]) + delta >= 0)
    line["amount"] = str(Decimal(line["amount"]) + delta)

    assert ("LINE_AMOUNT_MISMATCH", f"/lines/{index}/amount") in problems(invoice)


@PROPERTY
@given(invoices(), st.data())
def test_a_summary_that_is_not_the_sum_of_its_lines_is_caught(
    invoice: dict[str, Any], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(invoice["totals"]["by_rate"]) - 1))
    summary = invoice["totals"]["by_rate"][index]
    delta = data.draw(st.integers(1, 10**6))
    summary["taxable_amount"] = str(Decimal(summary["taxable_amount"]) + delta)

    found = problems(invoice)

    assert ("RATE_TAXABLE_MISMATCH", f"/totals/by_rate/{index}/taxable_amount") in found


@PROPERTY
@given(invoices(), st.data())
def test_a_tax_beyond_the_tolerance_is_caught(invoice: dict[str, Any], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(invoice["totals"]["by_rate"]) - 1))
    summary = invoice["totals"]["by_rate"][index]
    rate = summary["vat_rate"]
    lines = sum(1 for line in invoice["lines"] if line.get("vat_rate") == rate)
    beyond = (lines + 1) // 2 + 1 + data.draw(st.integers(0, 10**6))
    summary["tax_amount"] = str(Decimal(summary["tax_amount"]) + beyond)

    assert ("RATE_TAX_MISMATCH", f"/totals/by_rate/{index}/tax_amount") in problems(invoice)


@PROPERTY
@given(invoices(), st.sampled_from(["amount_before_tax", "tax_amount", "total_payable"]), st.data())
def test_totals_that_do_not_add_up_are_caught(
    invoice: dict[str, Any], field: str, data: st.DataObject
) -> None:
    delta = data.draw(st.integers(1, 10**9))
    invoice["totals"][field] = str(Decimal(invoice["totals"][field]) + delta)

    assert _codes(invoice) & {
        "TOTAL_BEFORE_TAX_MISMATCH",
        "TOTAL_TAX_MISMATCH",
        "TOTAL_PAYABLE_MISMATCH",
    }


@PROPERTY
@given(invoices(), st.integers(0, 99))
def test_a_symbol_of_another_year_is_caught(invoice: dict[str, Any], year: int) -> None:
    issued = dt.date.fromisoformat(invoice["issued_date"])
    assume(year != issued.year % 100)
    invoice["symbol"] = f"C{year:02d}TAA"

    assert problems(invoice) == [("SYMBOL_YEAR_MISMATCH", "/symbol")]


@PROPERTY
@given(invoices(), st.integers(1, 3650))
def test_an_issue_date_after_today_in_vietnam_is_caught(invoice: dict[str, Any], days: int) -> None:
    today_in_vietnam = (NOW + dt.timedelta(hours=7)).date()
    issued = today_in_vietnam + dt.timedelta(days=days)
    invoice["issued_date"] = issued.isoformat()
    invoice["symbol"] = f"C{issued.year % 100:02d}TAA"

    assert problems(invoice) == [("ISSUE_DATE_IN_FUTURE", "/issued_date")]


@PROPERTY
@given(invoices(), st.integers(181, 3650))
def test_an_issue_date_more_than_180_days_back_is_caught(
    invoice: dict[str, Any], days: int
) -> None:
    today_in_vietnam = (NOW + dt.timedelta(hours=7)).date()
    issued = today_in_vietnam - dt.timedelta(days=days)
    invoice["issued_date"] = issued.isoformat()
    invoice["symbol"] = f"C{issued.year % 100:02d}TAA"

    assert problems(invoice) == [("ISSUE_DATE_TOO_OLD", "/issued_date")]


@PROPERTY
@given(invoices(), st.text(min_size=1, max_size=10), st.data())
def test_an_unknown_vat_rate_is_caught(
    invoice: dict[str, Any], rate: str, data: st.DataObject
) -> None:
    assume(rate not in {"0%", "5%", "8%", "10%", "KCT", "KKKNT"} and not rate.startswith("KHAC:"))
    goods = [i for i, line in enumerate(invoice["lines"]) if line["nature"] != 4]
    index = data.draw(st.sampled_from(goods))
    invoice["lines"][index]["vat_rate"] = rate

    assert ("VAT_RATE_INVALID", f"/lines/{index}/vat_rate") in problems(invoice)


@PROPERTY
@given(invoices(), st.data(), st.floats(allow_nan=False) | st.integers())
def test_a_json_number_in_any_amount_is_caught(
    invoice: dict[str, Any], data: st.DataObject, number: float
) -> None:
    goods = [i for i, line in enumerate(invoice["lines"]) if line["nature"] != 4]
    index = data.draw(st.sampled_from(goods))
    field = data.draw(st.sampled_from(["quantity", "unit_price", "amount"]))
    invoice["lines"][index][field] = number

    assert problems(invoice) == [("DECIMAL_MUST_BE_STRING", f"/lines/{index}/{field}")]
