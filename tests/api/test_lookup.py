"""Lookups by the parties and officers, the public check, the page, and the cache paths; the
listing's bounds and signed page tokens, and the inputs refused, through the real service."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from einvoice.config import Settings
from einvoice.invoice.samples import sample_invoice
from einvoice.registry import admin
from lookup.cache import code_key
from lookup.redis_client import create_redis
from signing.seller import sign_invoice
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.api.test_invoices import Seller, make_seller
from tests.einvoice.registry.test_registry_storage import fresh_tax_code
from tests.lookup.test_service import TODAY, months_ago
from tests.signing.keys import private_key
from tests.support import body_without_request_id


async def _client(settings: Settings, role: str, tax_code: str | None = None) -> dict[str, str]:
    pool = await create_pool(settings)
    try:
        registry = Registry(pool)
        if tax_code is not None:
            await admin.add_taxpayer(registry, tax_code, "Công ty Người Mua")
        issued = await admin.add_client(registry, role, tax_code)
    finally:
        await pool.close()
    return {"Authorization": f"Bearer {issued.api_key}"}


def _submission(seller: Seller, number: int, issued: dt.date | None = None) -> dict[str, Any]:
    """A recent invoice (the rules refuse issue dates more than 180 days old)."""
    invoice = sample_invoice(
        seller_tax_code=seller.tax_code, number=number, issued=issued or months_ago(1, 15)
    )
    signature = sign_invoice(invoice, private_key(seller.alg), kid=seller.kid, alg=seller.alg)
    return {"invoice": invoice, "signature": signature}


async def _issued(
    http: httpx.AsyncClient, seller: Seller, number: int, issued: dt.date | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    submission = _submission(seller, number, issued)
    response = await http.post("/v1/invoices", json=submission, headers=seller.headers)
    assert response.status_code == 201, response.text
    return submission, response.json()


async def test_seller_buyer_and_officer_read_an_invoice_and_others_get_404(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    submission, answer = await _issued(http, seller, 1)
    officer = await _client(settings, "officer")
    stranger = await make_seller(settings)

    as_seller = await http.get(f"/v1/invoices/{answer['code']}", headers=seller.headers)
    as_officer = await http.get(f"/v1/invoices/{answer['code']}", headers=officer)
    as_stranger = await http.get(f"/v1/invoices/{answer['code']}", headers=stranger.headers)
    unknown = await http.get(f"/v1/invoices/{'00' + 'F' * 32}", headers=seller.headers)

    assert as_seller.status_code == 200
    document = as_seller.json()
    assert document["code"] == answer["code"]
    assert document["token"] == answer["token"]
    assert document["invoice"] == submission["invoice"]
    assert document["seller_signature"] == submission["signature"]
    assert document["status"] == "authenticated"
    assert as_officer.json() == document
    assert as_stranger.status_code == 404
    assert unknown.status_code == 404
    # Existence is not revealed.
    assert body_without_request_id(as_stranger) == body_without_request_id(unknown)


async def test_the_buyer_reads_by_business_key(settings: Settings, http: httpx.AsyncClient) -> None:
    seller = await make_seller(settings)
    buyer_code = "0314409058"
    submission = _submission(seller, 2)
    response = await http.post("/v1/invoices", json=submission, headers=seller.headers)
    assert response.status_code == 201
    pool = await create_pool(settings)
    try:
        registry = Registry(pool)
        if await registry.taxpayer(buyer_code) is None:
            await admin.add_taxpayer(registry, buyer_code, "Người mua")
        buyer = await admin.add_client(registry, "business", buyer_code)
    finally:
        await pool.close()
    params = {
        "seller_tax_code": seller.tax_code,
        "template": "1",
        "symbol": submission["invoice"]["symbol"],
        "number": 2,
    }

    found = await http.get(
        "/v1/invoices", params=params, headers={"Authorization": f"Bearer {buyer.api_key}"}
    )

    assert found.status_code == 200
    assert found.json()["code"] == response.json()["code"]


async def test_officer_reads_are_audited(settings: Settings, http: httpx.AsyncClient) -> None:
    seller = await make_seller(settings)
    _, answer = await _issued(http, seller, 3)
    pool = await create_pool(settings)
    try:
        officer = await admin.add_client(Registry(pool), "officer", None)
        await http.get(
            f"/v1/invoices/{answer['code']}",
            headers={"Authorization": f"Bearer {officer.api_key}"},
        )
        rows = await pool.fetch(
            "SELECT kind, subject FROM officer_reads WHERE client_id = $1", officer.client.id
        )
    finally:
        await pool.close()

    assert [(r["kind"], r["subject"]) for r in rows] == [("invoice", answer["code"])]


async def test_the_public_check_of_printed_fields_and_tokens(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    submission, answer = await _issued(http, seller, 4)
    invoice = submission["invoice"]
    printed = {
        "seller_tax_code": seller.tax_code,
        "template": "1",
        "symbol": invoice["symbol"],
        "number": 4,
        "total_payable": invoice["totals"]["total_payable"],
    }

    valid = await http.post("/v1/verify", json=printed)
    wrong_total = await http.post("/v1/verify", json={**printed, "total_payable": "1"})
    by_token = await http.post("/v1/verify", json={"token": answer["token"]})
    forged = await http.post("/v1/verify", json={"token": answer["token"][:-4] + "AAAA"})
    incomplete = await http.post("/v1/verify", json={"seller_tax_code": seller.tax_code})

    assert valid.json() == {
        "valid": True,
        "code": answer["code"],
        "issued_date": invoice["issued_date"],
        "status": "authenticated",
    }
    assert "buyer" not in valid.text
    assert wrong_total.json() == {"valid": False}
    assert by_token.json()["code"] == answer["code"]
    assert forged.json() == {"valid": False}
    assert incomplete.status_code == 422


async def test_the_lookup_page_answers_in_vietnamese_and_english(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    submission, answer = await _issued(http, seller, 5)
    invoice = submission["invoice"]

    empty = await http.get("/")
    found = await http.get(
        "/",
        params={
            "seller_tax_code": seller.tax_code,
            "template": "1",
            "symbol": invoice["symbol"],
            "number": "5",
            "total_payable": invoice["totals"]["total_payable"],
        },
    )
    missing = await http.get(
        "/",
        params={
            "seller_tax_code": seller.tax_code,
            "template": "1",
            "symbol": invoice["symbol"],
            "number": "999",
            "total_payable": "1",
        },
    )

    assert empty.status_code == 200
    assert "Tra cứu hóa đơn điện tử" in empty.text
    assert 'lang="en"' in empty.text
    assert "Hóa đơn hợp lệ" in found.text
    assert answer["code"] in found.text
    assert "Không tìm thấy hóa đơn hợp lệ" in missing.text


async def test_cache_hits_misses_and_negative_entries(
    settings: Settings, http: httpx.AsyncClient, metrics_text: Callable[[], Awaitable[str]]
) -> None:
    seller = await make_seller(settings)
    _, answer = await _issued(http, seller, 6)
    cache = create_redis(settings)
    unknown = "00" + uuid.uuid4().hex.upper()
    try:
        assert await cache.get(code_key(answer["code"])) is not None  # written through
        await cache.delete(code_key(answer["code"]))
        miss = await http.get(f"/v1/invoices/{answer['code']}", headers=seller.headers)
        refilled = await cache.get(code_key(answer["code"]))
        hit = await http.get(f"/v1/invoices/{answer['code']}", headers=seller.headers)
        await http.get(f"/v1/invoices/{unknown}", headers=seller.headers)  # miss, remembered
        negative = await cache.get(code_key(unknown))
        again = await http.get(f"/v1/invoices/{unknown}", headers=seller.headers)
        negative_ttl = await cache.ttl(code_key(unknown))
    finally:
        await cache.aclose()
    metrics = await metrics_text()

    assert miss.status_code == hit.status_code == 200
    assert miss.json() == hit.json()
    assert refilled is not None
    assert negative == b"-"
    assert 0 < negative_ttl <= 30
    assert 'einvoice_cache_reads_total{result="hit"}' in metrics
    assert 'einvoice_cache_reads_total{result="miss"}' in metrics
    assert again.status_code == 404
    assert 'einvoice_cache_reads_total{result="negative_hit"}' in metrics


@pytest.mark.disruptive
async def test_lookups_answer_from_cassandra_while_redis_is_down(
    settings: Settings,
    base_settings: Settings,
    http: httpx.AsyncClient,
    metrics_text: Callable[[], Awaitable[str]],
) -> None:
    import asyncio

    import devstack as stack

    (server,) = stack.servers(base_settings, ["redis"])
    if server.process.running_pid() is None:
        pytest.skip("Redis is not run by the local stack; the test never stops others' servers")
    seller = await make_seller(settings)
    _, answer = await _issued(http, seller, 7)

    await asyncio.to_thread(stack.down, base_settings, ["redis"])
    try:
        during = await http.get(f"/v1/invoices/{answer['code']}", headers=seller.headers)
        metrics = await metrics_text()
    finally:
        await asyncio.to_thread(stack.up, base_settings, ["redis"])

    assert during.status_code == 200
    assert during.json()["code"] == answer["code"]
    assert "einvoice_cache_available 0.0" in metrics


async def test_a_sellers_invoices_page_across_months_and_buckets_newest_first(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    pool = await create_pool(settings)
    try:
        await admin.raise_month_buckets(Registry(pool), seller.tax_code, 3)
    finally:
        await pool.close()
    issued: dict[str, dt.date] = {}
    days = [months_ago(months, day) for months in (3, 2, 1) for day in (2, 9, 16, 23, 28)]
    for number, day in enumerate(days, start=1):
        _, answer = await _issued(http, seller, number, day)
        issued[answer["code"]] = day
    start, end = months_ago(3, 5), months_ago(1, 20)

    collected: list[dict[str, Any]] = []
    params: dict[str, Any] = {"from": str(start), "to": str(end), "limit": 4}
    for _ in range(10):
        page = await http.get(
            f"/v1/sellers/{seller.tax_code}/invoices", params=params, headers=seller.headers
        )
        assert page.status_code == 200, page.text
        collected += page.json()["invoices"]
        token = page.json()["next_page_token"]
        if token is None:
            break
        params["page_token"] = token

    expected = sorted(
        (code for code, day in issued.items() if start <= day <= end),
        key=lambda code: (issued[code], code),
        reverse=True,
    )
    assert [item["code"] for item in collected] == expected
    assert len(expected) == 12  # 4 three months ago, 5 two months ago, 3 last month


async def test_only_the_seller_and_officers_list_a_sellers_invoices(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    other = await make_seller(settings)
    officer = await _client(settings, "officer")
    params = {"from": "2025-01-01", "to": "2025-12-31"}
    path = f"/v1/sellers/{seller.tax_code}/invoices"

    assert (await http.get(path, params=params, headers=other.headers)).status_code == 404
    assert (await http.get(path, params=params, headers=officer)).status_code == 200
    assert (
        await http.get(path, params={**params, "page_token": "x"}, headers=seller.headers)
    ).status_code == 422


def _errors(response: httpx.Response) -> list[tuple[str, str | None]]:
    return [(error["code"], error.get("field")) for error in response.json()["errors"]]


async def test_a_listings_range_is_at_most_366_days_and_clamped_to_the_retention(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    path = f"/v1/sellers/{seller.tax_code}/invoices"
    year_ago = TODAY - dt.timedelta(days=365)

    async def listing(date_from: str, date_to: str) -> httpx.Response:
        return await http.get(
            path, params={"from": date_from, "to": date_to}, headers=seller.headers
        )

    longest = await listing(str(year_ago), str(TODAY))
    too_long = await listing(str(year_ago - dt.timedelta(days=1)), str(TODAY))
    whole_range = await listing("0001-01-01", "9999-12-31")
    backwards = await listing(str(TODAY), str(year_ago))
    far_future = await listing("9999-01-01", "9999-12-31")
    year_one = await listing("0001-01-01", "0001-12-31")
    not_a_date = await listing("+10000-01-01", "9999-12-31")

    assert longest.status_code == 200
    assert (too_long.status_code, _errors(too_long)) == (422, [("RANGE_TOO_LONG", "/to")])
    assert (whole_range.status_code, _errors(whole_range)) == (422, [("RANGE_TOO_LONG", "/to")])
    assert (backwards.status_code, _errors(backwards)) == (422, [("INVALID_FIELD", "/to")])
    assert far_future.json() == year_one.json() == {"invoices": [], "next_page_token": None}
    assert not_a_date.status_code == 422
    assert [code for code, _ in _errors(not_a_date)] == ["INVALID_FIELD"]


async def test_a_page_token_is_signed_for_its_own_listing(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    other = await make_seller(settings)
    officer = await _client(settings, "officer")
    for number in (1, 2, 3):
        await _issued(http, seller, number)
    params: dict[str, str | int] = {"from": str(months_ago(2, 1)), "to": str(TODAY), "limit": 2}

    first = await http.get(
        f"/v1/sellers/{seller.tax_code}/invoices", params=params, headers=officer
    )
    token = first.json()["next_page_token"]
    following = await http.get(
        f"/v1/sellers/{seller.tax_code}/invoices",
        params={**params, "page_token": token},
        headers=officer,
    )
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[5] ^= 1  # another issue date
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    refused = [
        await http.get(
            f"/v1/sellers/{tax_code}/invoices", params={**params, **change}, headers=officer
        )
        for tax_code, change in [
            (other.tax_code, {"page_token": token}),  # another seller
            (seller.tax_code, {"page_token": token, "limit": 3}),  # another limit
            (seller.tax_code, {"page_token": token, "from": str(months_ago(2, 2))}),  # range
            (seller.tax_code, {"page_token": tampered}),
        ]
    ]

    assert len(first.json()["invoices"]) == 2
    assert len(token) <= 56
    assert following.status_code == 200
    assert len(following.json()["invoices"]) == 1
    assert [(r.status_code, _errors(r)) for r in refused] == [
        (422, [("INVALID_FIELD", "/page_token")])
    ] * 4


async def test_a_sparse_listing_answers_a_bounded_page_and_a_token_to_go_on(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    # 16 buckets: two months (32 partitions) a page, so a year is seven pages, mostly empty.
    seller = await make_seller(settings)
    pool = await create_pool(settings)
    try:
        await admin.raise_month_buckets(Registry(pool), seller.tax_code, 16)
    finally:
        await pool.close()
    _, recent = await _issued(http, seller, 1, months_ago(1, 15))
    _, older = await _issued(http, seller, 2, months_ago(4, 15))
    params: dict[str, Any] = {"from": str(TODAY - dt.timedelta(days=365)), "to": str(TODAY)}

    pages: list[list[str]] = []
    for _ in range(20):
        page = await http.get(
            f"/v1/sellers/{seller.tax_code}/invoices", params=params, headers=seller.headers
        )
        assert page.status_code == 200, page.text
        pages.append([item["code"] for item in page.json()["invoices"]])
        if page.json()["next_page_token"] is None:
            break
        params["page_token"] = page.json()["next_page_token"]

    assert [code for page in pages for code in page] == [recent["code"], older["code"]]
    assert len(pages) == 7  # 13 months, two a page
    assert [] in pages  # an empty page, with a token to go on


async def test_an_officers_lookups_that_find_nothing_are_audited_and_malformed_ones_refused(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    pool = await create_pool(settings)
    try:
        officer = await admin.add_client(Registry(pool), "officer", None)
        headers = {"Authorization": f"Bearer {officer.api_key}"}
        unknown = "00" + uuid.uuid4().hex.upper()
        key: dict[str, str | int] = {
            "seller_tax_code": "0100233488",
            "template": "1",
            "symbol": "C25TAA",
            "number": 77,
        }
        by_code = await http.get(f"/v1/invoices/{unknown}", headers=headers)
        by_key = await http.get("/v1/invoices", params=key, headers=headers)
        not_a_code = await http.get("/v1/invoices/00abc", headers=headers)
        not_a_key = await http.get(
            "/v1/invoices", params={**key, "seller_tax_code": "0100233489"}, headers=headers
        )
        not_a_tax_code = await http.get(
            "/v1/sellers/%00/invoices",
            params={"from": "2026-01-01", "to": "2026-01-31"},
            headers=headers,
        )
        rows = await pool.fetch(
            "SELECT kind, subject FROM officer_reads WHERE client_id = $1 ORDER BY id",
            officer.client.id,
        )
    finally:
        await pool.close()

    assert by_code.status_code == by_key.status_code == 404
    assert (not_a_code.status_code, _errors(not_a_code)) == (422, [("INVALID_FIELD", "/code")])
    assert _errors(not_a_key) == [("TAX_CODE_CHECK_DIGIT", "/seller_tax_code")]
    assert _errors(not_a_tax_code) == [("TAX_CODE_FORMAT", "/tax_code")]
    assert [(r["kind"], r["subject"]) for r in rows] == [
        ("invoice", unknown),
        ("invoice", "0100233488/1/C25TAA/77"),
    ]


@pytest.mark.parametrize("number", ["0", "١٢", "123456789", "-1", "1e3"])
async def test_the_page_says_what_is_wrong_with_a_number(
    http: httpx.AsyncClient, number: str
) -> None:
    fields = {
        "seller_tax_code": "0100233488",
        "template": "1",
        "symbol": "C25TAA",
        "number": number,
        "total_payable": "1",
    }

    page = await http.get("/", params=fields)

    assert page.status_code == 200
    assert 'role="alert"' in page.text
    assert "Số hóa đơn là số nguyên từ 1 đến 99.999.999" in page.text
    assert "The invoice number is a whole number from 1 to 99,999,999" in page.text


async def test_a_buyer_lists_its_purchases_and_others_get_the_unknown_answer(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    buyer = fresh_tax_code()
    buyer_headers = await _client(settings, "business", buyer)  # registers the buyer too
    seller = await make_seller(settings)
    invoice = sample_invoice(
        seller_tax_code=seller.tax_code, number=1, issued=TODAY, buyer_tax_code=buyer
    )
    signature = sign_invoice(invoice, private_key(seller.alg), kid=seller.kid, alg=seller.alg)
    answer = await http.post(
        "/v1/invoices", json={"invoice": invoice, "signature": signature}, headers=seller.headers
    )
    assert answer.status_code == 201, answer.text
    path = f"/v1/buyers/{buyer}/invoices"
    params = {"from": str(TODAY - dt.timedelta(days=30)), "to": str(TODAY)}

    own = await http.get(path, params=params, headers=buyer_headers)
    officer = await http.get(path, params=params, headers=await _client(settings, "officer"))
    its_seller = await http.get(path, params=params, headers=seller.headers)
    unknown = await http.get(
        f"/v1/buyers/{fresh_tax_code()}/invoices",
        params=params,
        headers=await _client(settings, "officer"),
    )

    assert own.status_code == officer.status_code == 200, own.text
    assert own.json() == officer.json()
    assert [item["code"] for item in own.json()["invoices"]] == [answer.json()["code"]]
    assert own.json()["invoices"][0]["seller_tax_code"] == seller.tax_code
    assert its_seller.status_code == unknown.status_code == 404
    assert _errors(its_seller) == _errors(unknown) == [("BUYER_NOT_FOUND", None)]
