"""The lookup page's answers (issue #18, item 8) through the real service: the result where the
eye lands, problems in both languages pointing at their inputs, amounts as Vietnamese write them,
the QR code of the check; and, in a process of the test's own (so that its per-address limit is
its alone), the page saying that the limit was reached. The browser's view of the same:
tests/api/test_lookup_page_browser.py."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.templating import vietnamese_amount
from einvoice.config import Settings
from tests.api.test_invoices import make_seller


def _printed(invoice: dict[str, Any], seller_tax_code: str, total: str) -> dict[str, str]:
    return {
        "seller_tax_code": seller_tax_code,
        "template": invoice["template"],
        "symbol": invoice["symbol"],
        "number": str(invoice["number"]),
        "total_payable": total,
    }


async def test_the_result_comes_first_and_vietnamese_amounts_are_read(
    settings: Settings, http: httpx.AsyncClient, service_url: str
) -> None:
    seller = await make_seller(settings)
    submission = seller.submission(number=21)
    invoice = submission["invoice"]
    answer = (await http.post("/v1/invoices", json=submission, headers=seller.headers)).json()
    total = invoice["totals"]["total_payable"]
    dotted = vietnamese_amount(total)  # 15.389.850

    pages = [
        await http.get("/", params=_printed(invoice, seller.tax_code, written))
        for written in (dotted, dotted.replace(".", " "), f"{int(total):,}")
    ]

    for page in pages:
        assert page.status_code == 200
        text = page.text
        assert "Hóa đơn hợp lệ" in text, text
        assert answer["code"] in text
        # Above the form, and focused when the page opens.
        assert text.index('id="result"') < text.index("<form")
        assert 'tabindex="-1" autofocus' in text
        assert 'role="status"' in text
        assert 'class="qr-code"' in text
        assert page.headers["referrer-policy"] == "no-referrer"
    # The QR code and the page's link are of this very check, on the service's public address.
    assert f"{service_url}/?seller_tax_code={seller.tax_code}" in html.unescape(pages[0].text)


async def test_what_is_wrong_is_said_in_both_languages_at_its_input(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/", params={"seller_tax_code": "0100233489", "symbol": "C25TAA"})

    assert page.status_code == 200
    text = page.text
    assert 'role="alert"' in text
    assert text.index('id="result"') < text.index("<form")
    # Missing fields first (the check names them before judging the others).
    for vietnamese, english, field in [
        ("Chưa nhập mẫu số.", "Template is missing.", "template"),
        ("Chưa nhập số hóa đơn.", "Invoice number is missing.", "number"),
        ("Chưa nhập tổng tiền thanh toán.", "Total payable is missing.", "total_payable"),
    ]:
        assert vietnamese in text
        assert english in text
        assert f'<a href="#{field}">' in text
        assert f'name="{field}" type="text" value=""' in text
    assert 'aria-invalid="true"' in text

    malformed = await http.get(
        "/",
        params={
            "seller_tax_code": "0100233489",
            "template": "1",
            "symbol": "X",
            "number": "1",
            "total_payable": "1",
        },
    )

    assert "Chữ số kiểm tra (chữ số thứ 10) của mã số thuế không đúng." in malformed.text
    assert "The tax code&#39;s check digit" in malformed.text
    assert "Ký hiệu gồm C hoặc K" in malformed.text
    assert "The symbol is C or K" in malformed.text


async def test_an_empty_page_has_grouped_fields_and_a_numeric_keyboard(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/")

    text = page.text
    assert 'id="result"' not in text
    assert text.count("<fieldset>") == 2
    assert "Thông tin in trên hóa đơn" in text
    assert 'name="number" type="text"' in text
    assert 'inputmode="numeric"' in text
    assert "1.100.000, 1 100 000 and 1,100,000 are all accepted" in text
    assert "script" not in page.headers["content-security-policy"]


@pytest.fixture(scope="module")
async def own_service(settings: Settings, session_env: dict[str, str]) -> AsyncIterator[Any]:
    """The app served in process to one client address: its per-address limit is the test's."""
    local = settings.model_copy(
        update={
            "authority_keys_dir": Path(session_env["EINVOICE_AUTHORITY_KEYS_DIR"]),
            "authority_active_kid": session_env["EINVOICE_AUTHORITY_ACTIVE_KID"],
        }
    )
    app = create_app(local)
    async with app.router.lifespan_context(app) as state:

        async def served(scope: Any, receive: Any, send: Any) -> None:
            scope["state"] = dict(state or {})
            scope["client"] = ("10.9.8.7", 40000)
            await app(scope, receive, send)

        transport = httpx.ASGITransport(served)
        async with httpx.AsyncClient(transport=transport, base_url="http://page.test") as client:
            yield client


async def test_the_page_says_when_the_limit_is_reached(own_service: httpx.AsyncClient) -> None:
    fields = {"token": "e30.e30.e30"}

    statuses = [(await own_service.get("/", params=fields)).status_code for _ in range(40)]
    limited = await own_service.get("/", params=fields)

    assert statuses[0] == 200
    assert 429 in statuses
    assert limited.status_code == 429
    assert limited.headers["content-type"].startswith("text/html")
    assert int(limited.headers["retry-after"]) >= 1
    assert "Bạn đã tra cứu quá nhiều lần" in limited.text
    assert "Too many lookups from your address" in limited.text
    assert 'role="alert"' in limited.text
