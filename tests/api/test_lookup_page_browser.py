"""The lookup page and the invoice view in a real headless Chromium (Debian's package), driven by
Playwright: a person types the fields printed on an invoice (the total as Vietnamese write it),
presses the button, and reads the answer where the eye lands; checks a replaced invoice by the
token its QR code carries; and a seller opens its invoice, on screen and printed to an A4 PDF.

Screenshots (PNG) and the PDF go to EINVOICE_SCREENSHOT_DIR when it is set (CI keeps them as
artefacts; people look at them), else to the test's temporary directory; each is checked to be a
real image or PDF, not an empty file.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from api.templating import vietnamese_amount
from einvoice.config import Settings
from tests.api.test_invoices import make_seller
from tests.api.test_lifecycle import _correction, _registered_buyer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying hosts this machine cannot reach.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    chosen = os.environ.get("EINVOICE_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _screenshot(page: Page, path: Path) -> bytes:
    image = await page.screenshot(path=path, full_page=True)
    assert image.startswith(PNG)
    assert len(image) > 10_000, f"{path} looks empty"
    return image


async def _look_up(page: Page, service_url: str, fields: dict[str, str]) -> None:
    await page.goto(service_url + "/")
    await page.get_by_label("Mã số thuế người bán").fill(fields["seller_tax_code"])
    await page.get_by_label("Mẫu số").fill(fields["template"])
    await page.get_by_label("Ký hiệu").fill(fields["symbol"])
    await page.get_by_label("Số hóa đơn").fill(fields["number"])
    await page.get_by_label("Tổng tiền thanh toán").fill(fields["total_payable"])
    await page.get_by_role("button", name="Tra cứu").click()
    await page.locator("#result").wait_for()


async def test_a_person_checks_an_invoice_on_the_page(
    settings: Settings, http: httpx.AsyncClient, service_url: str, shots: Path
) -> None:
    await _registered_buyer(settings)  # a replacement names the sample's buyer
    seller = await make_seller(settings)
    submission = seller.submission(number=8)
    answer = (await http.post("/v1/invoices", json=submission, headers=seller.headers)).json()
    invoice = submission["invoice"]
    original = seller.submission(number=9)
    replaced_answer = (
        await http.post("/v1/invoices", json=original, headers=seller.headers)
    ).json()
    replacement = await http.post(
        "/v1/invoices", json=_correction(seller, 10, original), headers=seller.headers
    )
    assert replacement.status_code == 201, replacement.text
    printed = {
        "seller_tax_code": seller.tax_code,
        "template": "1",
        "symbol": invoice["symbol"],
        "number": "8",
        # As Vietnamese write it, with spaces between the thousands: 15 389 850.
        "total_payable": vietnamese_amount(invoice["totals"]["total_payable"]).replace(".", " "),
    }

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 420, "height": 860})  # a phone
            await page.goto(service_url + "/")
            # The form: two groups, the number as text with a numeric keyboard.
            legends = await page.locator("fieldset > legend").all_inner_texts()
            number = page.get_by_label("Số hóa đơn")
            number_type = await number.get_attribute("type")
            number_keyboard = await number.get_attribute("inputmode")
            amount_hint = await page.locator("#total_payable-hint").inner_text()
            await _screenshot(page, shots / "lookup-empty.png")

            await _look_up(page, service_url, printed)
            status = page.get_by_role("status")
            found = await status.inner_text()
            focused = await page.evaluate("document.activeElement && document.activeElement.id")
            result_box = await page.locator("#result").bounding_box()
            form_box = await page.locator("form").bounding_box()
            found_url = page.url
            page_width = await page.evaluate("document.documentElement.scrollWidth")
            await _screenshot(page, shots / "lookup-valid.png")

            await _look_up(page, service_url, {**printed, "number": "999"})
            not_found = await page.get_by_role("status").inner_text()
            await _screenshot(page, shots / "lookup-not-found.png")

            await _look_up(page, service_url, {**printed, "symbol": "X"})
            symbol_invalid = await page.get_by_label("Ký hiệu").get_attribute("aria-invalid")
            problems = await page.get_by_role("alert").inner_text()
            await _screenshot(page, shots / "lookup-problems.png")

            # The original, now replaced, by the token its printed QR code carries.
            await page.goto(replaced_answer["verify_url"])
            replaced = await page.get_by_role("status").inner_text()
            await _screenshot(page, shots / "lookup-replaced.png")

            await page.goto(service_url + "/")
            await page.get_by_label("Mã token").fill(answer["token"])
            await page.get_by_role("button", name="Tra cứu").click()
            by_token = await page.get_by_role("status").inner_text()
        finally:
            await browser.close()

    assert legends == [
        "Thông tin in trên hóa đơn / Printed on the invoice",
        "Hoặc mã token của hóa đơn / Or the invoice's token",
    ]
    assert (number_type, number_keyboard) == ("text", "numeric")
    assert "1.100.000, 1 100 000 and 1,100,000 are all accepted" in amount_hint
    # The answer first, focused, where the eye lands after pressing the button.
    assert "Hóa đơn hợp lệ" in found
    assert "Authentic invoice" in found
    assert answer["code"] in found
    assert focused == "result"
    assert found_url.endswith("#result")
    assert result_box is not None
    assert form_box is not None
    assert result_box["y"] < form_box["y"]
    assert result_box["y"] < 860 / 2  # in the top half of a phone's screen
    assert page_width <= 420  # nothing wider than the phone: no sideways scrolling
    assert "Không tìm thấy hóa đơn hợp lệ" in not_found
    assert "No valid invoice found" in not_found
    assert "Ký hiệu gồm C hoặc K" in problems
    assert "The symbol is C or K" in problems
    assert symbol_invalid == "true"
    assert "Hóa đơn không còn hiệu lực" in replaced
    assert "Đã bị thay thế" in replaced
    assert replacement.json()["code"] in replaced
    assert answer["code"] in by_token


async def test_a_seller_reads_and_prints_its_invoice(
    settings: Settings, http: httpx.AsyncClient, service_url: str, shots: Path
) -> None:
    seller = await make_seller(settings)
    submission = seller.submission(number=30)
    answer = (await http.post("/v1/invoices", json=submission, headers=seller.headers)).json()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            pdf = await _view_and_print(browser, service_url, seller.headers, answer, shots)
        finally:
            await browser.close()

    assert pdf.startswith(b"%PDF-")
    pages = re.findall(rb"/Type\s*/Page[^s]", pdf)
    assert len(pages) == 1, "a ten-line invoice prints on one A4 page"
    media_box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert media_box is not None
    assert (round(float(media_box[1])), round(float(media_box[2]))) == (595, 842)  # A4 points


async def _view_and_print(
    browser: Browser,
    service_url: str,
    headers: dict[str, str],
    answer: dict[str, str],
    shots: Path,
) -> bytes:
    """The invoice view as a seller's browser shows it and as print shows it (screenshots), and
    printed to PDF (returned)."""
    context = await browser.new_context(
        extra_http_headers=headers, viewport={"width": 900, "height": 1200}
    )
    page = await context.new_page()
    response = await page.goto(f"{service_url}/v1/invoices/{answer['code']}")
    assert response is not None
    assert response.status == 200
    assert (await page.locator("#code").inner_text()) == answer["code"]
    assert await page.locator(".qr-code").count() == 1
    await _screenshot(page, shots / "invoice-screen.png")
    await page.emulate_media(media="print")
    await _screenshot(page, shots / "invoice-print.png")
    pdf = await page.pdf(path=shots / "invoice.pdf", prefer_css_page_size=True)
    await context.close()
    return pdf


@pytest.fixture(autouse=True)
def _chromium_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Path(CHROMIUM).exists(), "the browser test needs Debian's chromium (scripts/bootstrap)"
    monkeypatch.delenv("DISPLAY", raising=False)  # headless: no display wanted
