"""The verification URL of an answer and the readable invoice (issue #18, items 6 and 7): through
the real service for the routes and access, and rendered in process for the view's own cases
(escaping, an invoice with only the required fields, the statuses)."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from api.invoice_view import invoice_context
from api.templating import ENVIRONMENT, vietnamese_amount
from einvoice.config import Settings
from einvoice.invoice.samples import sample_invoice
from einvoice.timezone import VIETNAM
from signing.seller import sign_invoice
from tests.api.test_invoices import Seller, make_seller
from tests.api.test_lookup import _client
from tests.api.test_xml_invoices import XML, make_xml_seller
from tests.einvoice.registry.test_registry_storage import fresh_tax_code
from tests.signing.keys import private_key
from tests.support import body_without_request_id

HTML = {"Accept": "text/html"}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


async def _issued(
    http: httpx.AsyncClient, seller: Seller, number: int, buyer_tax_code: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    today = dt.datetime.now(VIETNAM).date()
    invoice = sample_invoice(
        seller_tax_code=seller.tax_code, number=number, issued=today, buyer_tax_code=buyer_tax_code
    )
    signature = sign_invoice(invoice, private_key(seller.alg), kid=seller.kid, alg=seller.alg)
    answer = await http.post(
        "/v1/invoices", json={"invoice": invoice, "signature": signature}, headers=seller.headers
    )
    assert answer.status_code == 201, answer.text
    return invoice, answer.json()


async def test_the_answer_names_its_check_on_the_lookup_page(
    settings: Settings, http: httpx.AsyncClient, service_url: str
) -> None:
    seller = await make_seller(settings)
    submission = seller.submission(number=3)
    answer = (await http.post("/v1/invoices", json=submission, headers=seller.headers)).json()
    again = await http.post("/v1/invoices", json=submission, headers=seller.headers)

    # The test service's own address: EINVOICE_PUBLIC_URL is unset, so the page is its own.
    assert answer["verify_url"] == f"{service_url}/?token={quote(answer['token'], safe='')}"
    assert again.json()["verify_url"] == answer["verify_url"]  # the original answer
    page = await http.get(answer["verify_url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Hóa đơn hợp lệ" in page.text
    assert "Authentic invoice" in page.text
    assert answer["code"] in page.text
    assert 'class="qr-code"' in page.text
    # What verification may reveal, and no more: not the buyer.
    buyer = submission["invoice"]["buyer"]
    assert buyer["name"] not in page.text
    assert buyer["tax_code"] not in page.text


async def test_an_hdon_answer_carries_the_url_as_a_header(
    settings: Settings, http: httpx.AsyncClient, service_url: str
) -> None:
    seller = await make_xml_seller(settings)

    response = await http.post(
        "/v1/invoices", content=seller.hdon(1), headers={**seller.headers, **XML}
    )

    assert response.status_code == 201, response.text
    token = response.headers["X-Invoice-Token"]
    assert response.headers["X-Verify-URL"] == f"{service_url}/?token={token}"


async def test_seller_buyer_and_officer_read_the_invoice_as_html(
    settings: Settings, http: httpx.AsyncClient, service_url: str
) -> None:
    seller = await make_seller(settings)
    buyer_tax_code = fresh_tax_code()
    buyer = await _client(settings, "business", buyer_tax_code)
    officer = await _client(settings, "officer")
    invoice, answer = await _issued(http, seller, 4, buyer_tax_code)
    path = f"/v1/invoices/{answer['code']}"

    views = [
        await http.get(path, headers={**headers, **HTML})
        for headers in (seller.headers, buyer, officer)
    ]

    for view in views:
        assert view.status_code == 200, view.text
        assert view.headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src" not in view.headers["content-security-policy"]  # no script at all
        text = html.unescape(view.text)
        assert answer["code"] in text
        assert invoice["seller"]["name"] in text
        assert invoice["buyer"]["name"] in text
        for line in invoice["lines"]:
            assert line["name"] in text
            assert vietnamese_amount(line["amount"]) in text
        totals = invoice["totals"]
        for amount in (totals["amount_before_tax"], totals["tax_amount"]):
            assert f"{vietnamese_amount(amount)} VND" in text
        for rate in totals["by_rate"]:
            assert vietnamese_amount(rate["tax_amount"]) in text
        assert re.search(
            rf'id="total_payable">{re.escape(vietnamese_amount(totals["total_payable"]))} VND<',
            text,
        )
        assert "Đã được cấp mã" in text
        assert answer["verify_url"] in text  # the link; the QR code draws the same URL
        assert 'class="qr-code"' in text


async def test_others_get_the_json_404_and_json_stays_the_default(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    invoice, answer = await _issued(http, seller, 5, fresh_tax_code())
    stranger = await make_seller(settings)
    path = f"/v1/invoices/{answer['code']}"

    hidden = await http.get(path, headers={**stranger.headers, **HTML})
    unknown = await http.get(f"/v1/invoices/{'00' + 'F' * 32}", headers={**seller.headers, **HTML})
    plain = await http.get(path, headers=seller.headers)
    tie = await http.get(path, headers={**seller.headers, "Accept": "application/json, text/html"})
    browser = await http.get(path, headers={**seller.headers, "Accept": BROWSER})
    by_key = await http.get(
        "/v1/invoices",
        params={
            "seller_tax_code": seller.tax_code,
            "template": "1",
            "symbol": invoice["symbol"],
            "number": 5,
        },
        headers={**seller.headers, **HTML},
    )

    for refused in (hidden, unknown):
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "application/json"
        assert [e["code"] for e in refused.json()["errors"]] == ["INVOICE_NOT_FOUND"]
    # Existence is never revealed.
    assert body_without_request_id(hidden) == body_without_request_id(unknown)
    assert plain.headers["content-type"] == "application/json"
    assert plain.json()["code"] == answer["code"]
    assert tie.headers["content-type"] == "application/json"
    assert browser.headers["content-type"].startswith("text/html")
    assert by_key.status_code == 200, by_key.text
    assert by_key.headers["content-type"].startswith("text/html")
    assert answer["code"] in by_key.text


# The view rendered in process: cases the service's own invoices do not reach.

_CODE = "00" + "AB" * 16


def _document(invoice: dict[str, Any], **state: Any) -> dict[str, Any]:
    return {
        "code": _CODE,
        "status": "authenticated",
        **state,
        "format": "json",
        "authenticated_at": "2026-11-30T03:04:05.678+00:00",
        "invoice_hash": "ab" * 32,
        "token": "eyJhbGciOiJFUzI1NiJ9.eyJjb2RlIjoiMDAifQ.c2ln",
        "seller_signature": "x",
        "invoice": invoice,
    }


def _render(document: dict[str, Any]) -> str:
    template = ENVIRONMENT.get_template("invoice.html")
    return template.render(invoice_context(document, "https://tracuu.example.vn"))


def test_the_sellers_text_is_escaped() -> None:
    invoice = sample_invoice()
    invoice["seller"]["name"] = '<script>alert("x")</script>'
    invoice["lines"][0]["name"] = "<img src=x onerror=alert(1)>"

    rendered = _render(_document(invoice))

    assert "<script>" not in rendered
    assert "<img" not in rendered
    assert "&lt;script&gt;" in rendered


def test_an_invoice_with_only_the_required_fields_renders() -> None:
    invoice = sample_invoice(lines=1, buyer_tax_code=None)
    invoice.pop("buyer")
    invoice.pop("payment_method", None)
    for name in ("code", "unit", "quantity", "unit_price", "vat_rate"):
        invoice["lines"][0].pop(name)
    invoice["lines"][0]["nature"] = 4  # a note
    invoice["totals"].pop("by_rate")

    rendered = _render(_document(invoice))

    assert "Ghi chú, diễn giải" in rendered
    assert "Người mua" in rendered


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ({"status": "replaced", "replaced_by": "00" + "CD" * 16}, ["Đã bị thay thế", "CDCD"]),
        ({"status": "cancelled", "cancelled_by": "N-1"}, ["Đã bị hủy", "N-1"]),
        ({"status": "adjusted", "adjusted_by": ["00" + "EF" * 16]}, ["Đã bị điều chỉnh", "EFEF"]),
    ],
)
def test_what_happened_to_the_invoice_is_shown(state: dict[str, Any], shown: list[str]) -> None:
    rendered = _render(_document(sample_invoice(), **state))

    for text in shown:
        assert text in rendered
    assert ('class="state void"' in rendered) is (state["status"] in ("replaced", "cancelled"))


def test_a_correction_names_its_original_and_other_rates_are_named() -> None:
    invoice = sample_invoice()
    invoice["original"] = {
        "relation": "replaces",
        "template": "1",
        "symbol": invoice["symbol"],
        "number": 7,
        "issued_date": "2025-06-01",
    }
    invoice["lines"][0]["vat_rate"] = "KCT"
    invoice["totals"]["by_rate"].append(
        {"vat_rate": "KHAC:5.26", "taxable_amount": "0", "tax_amount": "0"}
    )

    rendered = _render(_document(invoice, original_code="00" + "12" * 16))

    assert "Thay thế cho hóa đơn" in rendered
    assert "01/06/2025" in rendered
    assert "00" + "12" * 16 in rendered
    assert "Khác 5,26%" in rendered
    assert ">KCT<" in rendered
