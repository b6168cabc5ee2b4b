"""The HTML's filters: amounts and dates as Vietnamese write them, QR codes as inline SVG; and the
templates load (they are compiled when api.templating is imported)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.templating import ENVIRONMENT, day_month_year, qr_svg, vietnam_time, vietnamese_amount
from lookup.public_check import amount_readings


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("1100000", "1.100.000"),
        ("15389850", "15.389.850"),
        ("999", "999"),
        ("1000", "1.000"),
        ("0", "0"),
        ("-1234.5", "-1.234,5"),
        ("2.000001", "2,000001"),
        ("", ""),
        (None, ""),
        ("1e3", "1e3"),  # not a decimal string: as it is
    ],
)
def test_amounts_are_written_as_vietnamese_write_them(value: str | None, written: str) -> None:
    assert vietnamese_amount(value) == written


@given(
    st.decimals(min_value=0, max_value=Decimal("1e15") - 1, places=2, allow_nan=False).map(str)
    | st.integers(0, 10**21 - 1).map(str)
)
def test_the_public_check_reads_back_every_amount_the_html_writes(value: str) -> None:
    # A buyer types the total as the invoice view printed it: the page must accept it.
    assert Decimal(value) in amount_readings(vietnamese_amount(value))


def test_dates_and_times_as_vietnamese_write_them() -> None:
    assert day_month_year("2025-06-05") == "05/06/2025"
    assert day_month_year("not a date") == "not a date"
    assert vietnam_time("2025-06-15T20:12:13.123+00:00") == "16/06/2025 03:12:13 (GMT+7)"
    assert vietnam_time("2025-06-15T20:12:13") == "16/06/2025 03:12:13 (GMT+7)"  # UTC


def test_a_qr_code_is_an_inline_svg_sized_by_css() -> None:
    url = "https://tracuu.example.vn/?token=" + "eyJhbGciOiJFUzI1NiJ9.e30." + "x" * 600

    svg = qr_svg(url)

    assert svg.startswith('<svg viewBox="0 0 ')
    assert svg.endswith("</svg>")
    assert 'class="qr-code"' in svg
    assert "width=" not in svg.split(">", 1)[0]  # the page's CSS sizes it
    assert "<script" not in svg
    assert qr_svg(url) is svg  # drawn once per URL


def test_every_template_autoescapes() -> None:
    rendered = ENVIRONMENT.from_string("{{ text }}").render(text="<script>alert(1)</script>")

    assert rendered == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert set(ENVIRONMENT.list_templates()) == {
        "base.html",
        "_macros.html",
        "page.html",
        "invoice.html",
    }
