"""`einvoice demo submit` against a real service: a fresh invoice each run, where to see it, and
clear errors for a refused key, a missing registry and a service that is not running."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

import httpx
import pytest

from einvoice.cli import main
from einvoice.invoice.samples import sample_invoice
from einvoice.service_client.demo import (
    choose_seller,
    first_number,
    load_sellers,
    submit_fresh_invoice,
)
from einvoice.service_client.http import ServiceClient
from einvoice.timezone import VIETNAM
from signing.seller import sign_invoice
from tests.einvoice.service_client.conftest import DemoRegistry
from tests.signing.keys import private_key
from tests.support import free_port


async def run(*argv: str) -> int:
    # In a thread: the command blocks on HTTP, and the session's event loop must stay free.
    return await asyncio.to_thread(main, list(argv))


async def test_it_authenticates_a_fresh_invoice_and_says_where_to_see_it(
    demo_registry: DemoRegistry,
    service_url: str,
    http: httpx.AsyncClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        await run("demo", "submit", "--registry", str(demo_registry.path), "--url", service_url)
        == 0
    )
    printed = capsys.readouterr().out

    code = re.search(r"^  code +(\S+)$", printed, re.MULTILINE)
    assert code, printed
    assert re.search(r"^  token +\S+$", printed, re.MULTILINE), printed
    assert re.search(r"authenticated at +\d{4}-\d\d-\d\dT", printed), printed
    assert f"of seller {demo_registry.seller.tax_code}" in printed
    lookup = re.search(
        rf"curl -H \"Authorization: Bearer (\S+)\" ({re.escape(service_url)}\S+)", printed
    )
    assert lookup, printed
    assert lookup.group(1) == demo_registry.api_key
    found = await http.get(lookup.group(2), headers=demo_registry.seller.headers)
    assert found.status_code == 200, found.text
    assert found.json()["code"] == code.group(1)
    page_url = re.search(rf"^  ({re.escape(service_url)}/\?token=\S+)$", printed, re.MULTILINE)
    assert page_url, printed
    page = await http.get(page_url.group(1))
    assert page.status_code == 200
    assert code.group(1) in page.text

    # Each run is another invoice, authenticated now.
    assert (
        await run("demo", "submit", "--registry", str(demo_registry.path), "--url", service_url)
        == 0
    )
    again = re.search(r"^  code +(\S+)$", capsys.readouterr().out, re.MULTILINE)
    assert again
    assert again.group(1) != code.group(1)


async def test_a_number_taken_or_already_authenticated_moves_on_to_the_next(
    demo_registry: DemoRegistry, service_url: str, http: httpx.AsyncClient
) -> None:
    seller = choose_seller(load_sellers(demo_registry.path), None)
    now = dt.datetime.now(dt.UTC)
    number = first_number(now)
    # Another invoice holds the clock's number already.
    other = sample_invoice(
        number=number,
        issued=now.astimezone(VIETNAM).date(),
        seller_tax_code=seller.tax_code,
        buyer_tax_code=None,
    )
    signature = sign_invoice(
        other, private_key(seller.algorithm), kid=seller.kid, alg=seller.algorithm
    )
    taken = await http.post(
        "/v1/invoices",
        json={"invoice": other, "signature": signature},
        headers=demo_registry.seller.headers,
    )
    assert taken.status_code == 201, taken.text

    def submit_twice() -> tuple[int, int]:
        with ServiceClient(service_url, seller.api_key) as client:
            first = submit_fresh_invoice(client, seller, now)
            # The same moment again builds the same invoice (200 from the service): not fresh.
            second = submit_fresh_invoice(client, seller, now)
        assert (first.answer.status, second.answer.status) == (201, 201)
        return first.invoice["number"], second.invoice["number"]

    assert await asyncio.to_thread(submit_twice) == (number + 1, number + 2)


async def test_a_refused_key_is_shown_with_the_service_s_error(
    demo_registry: DemoRegistry, service_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = demo_registry.path.read_text().replace(demo_registry.api_key, "einv_wrong")
    demo_registry.path.write_text(text)

    assert (
        await run("demo", "submit", "--registry", str(demo_registry.path), "--url", service_url)
        == 1
    )

    error = capsys.readouterr().err
    assert "the service answered 401" in error
    assert "UNAUTHENTICATED" in error


async def test_a_service_that_is_not_running_is_named(
    demo_registry: DemoRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    assert await run("demo", "submit", "--registry", str(demo_registry.path), "--url", url) == 1

    error = capsys.readouterr().err
    assert f"no service answers at {url}" in error
    assert "Is it running" in error


async def test_a_missing_registry_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run("demo", "submit", "--registry", str(tmp_path / "none.json")) == 1

    assert "scripts/stack demo seed" in capsys.readouterr().err
