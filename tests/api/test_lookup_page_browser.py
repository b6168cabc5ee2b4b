"""The lookup page in a real headless Chromium (Debian's package), driven by Playwright: a person
types the fields printed on an invoice, presses the button, and reads the answer."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright

from einvoice.config import Settings
from tests.api.test_invoices import make_seller

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


async def test_a_person_checks_an_invoice_on_the_page(
    settings: Settings, http: httpx.AsyncClient, service_url: str, tmp_path: Path
) -> None:
    seller = await make_seller(settings)
    submission = seller.submission(number=8)
    answer = (await http.post("/v1/invoices", json=submission, headers=seller.headers)).json()
    invoice = submission["invoice"]

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(service_url + "/")
            await page.get_by_label("Mã số thuế người bán").fill(seller.tax_code)
            await page.get_by_label("Mẫu số").fill("1")
            await page.get_by_label("Ký hiệu").fill(invoice["symbol"])
            await page.get_by_label("Số hóa đơn").fill("8")
            await page.get_by_label("Tổng tiền thanh toán").fill(invoice["totals"]["total_payable"])
            await page.get_by_role("button", name="Tra cứu").click()
            status = page.get_by_role("status")
            await status.wait_for()
            text = await status.inner_text()
            await page.screenshot(path=str(tmp_path / "lookup.png"), full_page=True)

            await page.goto(service_url + "/")
            await page.get_by_label("Mã token").fill(answer["token"])
            await page.get_by_role("button", name="Tra cứu").click()
            by_token = await page.get_by_role("status").inner_text()
        finally:
            await browser.close()

    assert "Hóa đơn hợp lệ" in text
    assert "Authentic invoice" in text
    assert answer["code"] in text
    assert answer["code"] in by_token


@pytest.fixture(autouse=True)
def _chromium_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Path(CHROMIUM).exists(), "the browser test needs Debian's chromium (scripts/bootstrap)"
    monkeypatch.delenv("DISPLAY", raising=False)  # headless: no display wanted
