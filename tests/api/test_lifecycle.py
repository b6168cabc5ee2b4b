"""An invoice's life after authentication, through the real service (docs/lifecycle.md):
replacements and adjustments, notices that cancel and explain, the statuses every lookup shows,
and the races between them."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx
import orjson

from einvoice.config import Settings
from einvoice.invoice.samples import BUYER_TAX_CODE
from einvoice.registry import admin
from einvoice.timezone import VIETNAM
from lookup.cache import CachedDocument, code_key, put_if_newer
from lookup.redis_client import create_redis
from signing.seller import sign_invoice
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.api.test_invoices import Seller, make_seller
from tests.api.test_lookup import _client
from tests.signing.keys import private_key
from tests.support import body_without_request_id


def _today() -> dt.date:
    return dt.datetime.now(VIETNAM).date()


def _reference(submission: dict[str, Any], relation: str) -> dict[str, Any]:
    invoice = submission["invoice"]
    return {
        "relation": relation,
        "template": invoice["template"],
        "symbol": invoice["symbol"],
        "number": invoice["number"],
        "issued_date": invoice["issued_date"],
    }


def _correction(
    seller: Seller, number: int, original: dict[str, Any], relation: str = "replaces"
) -> dict[str, Any]:
    return seller.submission(number, original=_reference(original, relation))


def _notice(seller: Seller, *items: tuple[str, str]) -> dict[str, Any]:
    raw = {
        "seller_tax_code": seller.tax_code,
        "issued_date": _today().isoformat(),
        "items": [
            {"code": code, "action": action, "reason": f"{action}: sai thông tin người mua"}
            for code, action in items
        ],
    }
    signature = sign_invoice(raw, private_key(seller.alg), kid=seller.kid, alg=seller.alg)
    return {"notice": raw, "signature": signature}


async def _issue(http: httpx.AsyncClient, seller: Seller, submission: dict[str, Any]) -> str:
    response = await http.post("/v1/invoices", json=submission, headers=seller.headers)
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    return code


async def _document(http: httpx.AsyncClient, seller: Seller, code: str) -> dict[str, Any]:
    response = await http.get(f"/v1/invoices/{code}", headers=seller.headers)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def _codes(response: httpx.Response) -> list[tuple[str, str | None]]:
    return [(error["code"], error.get("field")) for error in response.json()["errors"]]


async def _registered_buyer(settings: Settings) -> None:
    pool = await create_pool(settings)
    try:
        registry = Registry(pool)
        if await registry.taxpayer(BUYER_TAX_CODE) is None:
            await admin.add_taxpayer(registry, BUYER_TAX_CODE, "Người mua")
    finally:
        await pool.close()


async def test_a_replacement_replaces_its_original_in_every_lookup(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    await _registered_buyer(settings)
    seller = await make_seller(settings)
    original = seller.submission(1)
    original_code = await _issue(http, seller, original)
    before = await _document(http, seller, original_code)  # now in the lookup cache
    replacement = _correction(seller, 2, original)

    answer = await http.post("/v1/invoices", json=replacement, headers=seller.headers)
    again = await http.post("/v1/invoices", json=replacement, headers=seller.headers)

    assert answer.status_code == 201, answer.text
    code = answer.json()["code"]
    assert (again.status_code, again.json()) == (200, answer.json())  # a retry: the same answer
    assert before["status"] == "authenticated"
    after = await _document(http, seller, original_code)
    assert after["status"] == "replaced"
    assert after["replaced_by"] == code
    unchanged = {k: v for k, v in after.items() if k not in ("status", "replaced_by")}
    assert unchanged == {k: v for k, v in before.items() if k != "status"}
    new = await _document(http, seller, code)
    assert new["status"] == "authenticated"
    assert new["original_code"] == original_code
    assert new["invoice"]["original"] == _reference(original, "replaces")
    # The cache holds the new status: no stale `authenticated` from Redis.
    cache = create_redis(settings)
    try:
        entry = await cache.get(code_key(original_code))
    finally:
        await cache.aclose()
    assert isinstance(entry, bytes)
    cached = CachedDocument.decode(entry)
    assert cached.document["status"] == "replaced"
    assert cached.version == 1
    # The public check: no longer valid, and why; by token and by printed fields alike.
    by_token = await http.post("/v1/verify", json={"token": before["token"]})
    printed = {
        "seller_tax_code": seller.tax_code,
        "template": "1",
        "symbol": original["invoice"]["symbol"],
        "number": 1,
        "total_payable": original["invoice"]["totals"]["total_payable"],
    }
    by_fields = await http.post("/v1/verify", json=printed)
    expected = {
        "valid": False,
        "code": original_code,
        "issued_date": original["invoice"]["issued_date"],
        "status": "replaced",
        "replaced_by": code,
    }
    assert by_token.json() == expected
    assert by_fields.json() == expected
    new_check = await http.post("/v1/verify", json={"token": answer.json()["token"]})
    assert new_check.json()["valid"] is True
    # The page, in both languages.
    page = await http.get("/", params={"token": before["token"]})
    assert "Hóa đơn không còn hiệu lực" in page.text
    assert "Đã bị thay thế" in page.text
    assert "Replaced" in page.text
    assert code in page.text
    # The listings, the seller's and the buyer's.
    officer = await _client(settings, "officer")
    window = {"from": _today().isoformat(), "to": _today().isoformat()}
    sold = await http.get(
        f"/v1/sellers/{seller.tax_code}/invoices", params=window, headers=seller.headers
    )
    bought = await http.get(f"/v1/buyers/{BUYER_TAX_CODE}/invoices", params=window, headers=officer)
    statuses = {item["code"]: item["status"] for item in sold.json()["invoices"]}
    assert statuses == {original_code: "replaced", code: "authenticated"}
    bought_statuses = {
        item["code"]: item["status"]
        for item in bought.json()["invoices"]
        if item["seller_tax_code"] == seller.tax_code
    }
    assert bought_statuses == statuses


async def test_adjustments_keep_their_original_valid(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    original = seller.submission(1)
    original_code = await _issue(http, seller, original)

    first = await _issue(http, seller, _correction(seller, 2, original, "adjusts"))
    second = await _issue(http, seller, _correction(seller, 3, original, "adjusts"))

    document = await _document(http, seller, original_code)
    assert document["status"] == "adjusted"
    assert document["adjusted_by"] == sorted([first, second])
    check = await http.post("/v1/verify", json={"token": document["token"]})
    assert check.json()["valid"] is True
    assert check.json()["status"] == "adjusted"
    # An adjusted invoice may still be replaced; its adjustments stay on record.
    replacement = await _issue(http, seller, _correction(seller, 4, original))
    document = await _document(http, seller, original_code)
    assert (document["status"], document["replaced_by"]) == ("replaced", replacement)
    assert document["adjusted_by"] == sorted([first, second])


async def test_a_correction_needs_an_authenticated_original_of_the_same_seller(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    other = await make_seller(settings)
    original = seller.submission(1)
    await _issue(http, seller, original)
    others = other.submission(7)
    await _issue(http, other, others)

    unknown = seller.submission(2, original={**_reference(original, "replaces"), "number": 99})
    wrong_date = dict(_reference(original, "replaces"))
    wrong_date["issued_date"] = (_today() - dt.timedelta(days=1)).isoformat()
    misdated = seller.submission(3, original=wrong_date)
    of_another = seller.submission(4, original=_reference(others, "replaces"))

    responses = [
        await http.post("/v1/invoices", json=submission, headers=seller.headers)
        for submission in (unknown, misdated, of_another)
    ]

    assert [response.status_code for response in responses] == [422, 422, 422]
    assert _codes(responses[0]) == [("ORIGINAL_NOT_FOUND", "/invoice/original")]
    assert _codes(responses[1]) == [("ORIGINAL_NOT_FOUND", "/invoice/original/issued_date")]
    assert _codes(responses[2]) == [("ORIGINAL_NOT_FOUND", "/invoice/original")]
    # Refused before any claim: the numbers are still free.
    for number in (2, 3, 4):
        await _issue(http, seller, seller.submission(number))


async def test_a_replaced_original_refuses_another_replacement_and_frees_its_number(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    original = seller.submission(1)
    original_code = await _issue(http, seller, original)
    winner = await _issue(http, seller, _correction(seller, 2, original))
    late = _correction(seller, 3, original)

    refused = await http.post("/v1/invoices", json=late, headers=seller.headers)
    retried = await http.post("/v1/invoices", json=late, headers=seller.headers)

    assert refused.status_code == 409
    assert _codes(refused) == [("ORIGINAL_REPLACED", "/invoice/original")]
    assert refused.json()["original"] == {"code": original_code, "status": "replaced"}
    assert (retried.status_code, body_without_request_id(retried)) == (
        409,
        body_without_request_id(refused),
    )
    # The refused replacement holds nothing: its number takes another invoice.
    await _issue(http, seller, seller.submission(3))
    assert (await _document(http, seller, original_code))["replaced_by"] == winner


async def test_two_replacements_racing_exactly_one_wins(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    for round_ in range(3):
        original = seller.submission(100 * round_ + 1)
        original_code = await _issue(http, seller, original)
        racing = [_correction(seller, 100 * round_ + n, original) for n in (2, 3)]

        answers = await asyncio.gather(
            *(http.post("/v1/invoices", json=s, headers=seller.headers) for s in racing)
        )

        assert sorted(a.status_code for a in answers) == [201, 409]
        won = next(a for a in answers if a.status_code == 201)
        lost = next(a for a in answers if a.status_code == 409)
        assert _codes(lost) == [("ORIGINAL_REPLACED", "/invoice/original")]
        document = await _document(http, seller, original_code)
        assert document["replaced_by"] == won.json()["code"]
        lost_number = racing[answers.index(lost)]["invoice"]["number"]
        key = {
            "seller_tax_code": seller.tax_code,
            "template": "1",
            "symbol": original["invoice"]["symbol"],
            "number": lost_number,
        }
        found = await http.get("/v1/invoices", params=key, headers=seller.headers)
        assert found.status_code == 404  # the loser's claim was released


async def test_a_cancel_racing_a_replacement_exactly_one_wins(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    outcomes = set()
    for round_ in range(4):
        original = seller.submission(100 * round_ + 1)
        original_code = await _issue(http, seller, original)

        cancel, replace = await asyncio.gather(
            http.post(
                "/v1/notices",
                json=_notice(seller, (original_code, "cancel")),
                headers=seller.headers,
            ),
            http.post(
                "/v1/invoices",
                json=_correction(seller, 100 * round_ + 2, original),
                headers=seller.headers,
            ),
        )

        assert cancel.status_code == 201, cancel.text
        [item] = cancel.json()["items"]
        document = await _document(http, seller, original_code)
        if item["status"] == "accepted":
            assert replace.status_code == 409
            assert _codes(replace) == [("ORIGINAL_CANCELLED", "/invoice/original")]
            assert document["status"] == "cancelled"
            outcomes.add("cancelled")
        else:
            assert replace.status_code == 201
            assert [e["code"] for e in item["errors"]] == ["INVOICE_REPLACED"]
            assert document["status"] == "replaced"
            outcomes.add("replaced")
    assert outcomes  # which one wins is the race's; that one alone does is the test's


async def test_a_notice_cancels_and_explains_the_sellers_own_invoices(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    other = await make_seller(settings)
    cancelled = await _issue(http, seller, seller.submission(1))
    explained = await _issue(http, seller, seller.submission(2))
    before = await _document(http, seller, cancelled)  # now in the lookup cache
    others = await _issue(http, other, other.submission(1))
    unknown = "00" + "A" * 32
    notice = _notice(
        seller,
        (cancelled, "cancel"),
        (explained, "explain"),
        (others, "cancel"),
        (unknown, "cancel"),
    )

    sent = await http.post("/v1/notices", json=notice, headers=seller.headers)
    again = await http.post("/v1/notices", json=notice, headers=seller.headers)

    assert sent.status_code == 201, sent.text
    answer = sent.json()
    notice_id = answer["notice_id"]
    assert uuid.UUID(notice_id)
    assert [(item["code"], item["status"]) for item in answer["items"]] == [
        (cancelled, "accepted"),
        (explained, "accepted"),
        (others, "rejected"),
        (unknown, "rejected"),
    ]
    assert answer["items"][0]["errors"] == []
    assert [e["code"] for e in answer["items"][2]["errors"]] == ["INVOICE_NOT_FOUND"]
    assert answer["items"][2]["errors"][0]["field"] == "/notice/items/2/code"
    assert (again.status_code, again.json()) == (200, answer)
    # The invoices: cancelled (no longer valid), explained (still valid), the other's untouched.
    document = await _document(http, seller, cancelled)
    assert (document["status"], document["cancelled_by"]) == ("cancelled", notice_id)
    check = await http.post("/v1/verify", json={"token": before["token"]})
    assert check.json()["valid"] is False
    assert check.json()["status"] == "cancelled"
    page = await http.get("/", params={"token": before["token"]})
    assert "Đã bị hủy" in page.text
    assert "Cancelled" in page.text
    document = await _document(http, seller, explained)
    assert (document["status"], document["explained_by"]) == ("authenticated", [notice_id])
    assert (await _document(http, other, others))["status"] == "authenticated"
    # The notice read back: by its seller and officers; to anyone else it does not exist.
    read = await http.get(f"/v1/notices/{notice_id}", headers=seller.headers)
    assert read.status_code == 200
    assert read.json()["notice"] == notice["notice"]
    assert read.json()["signature"] == notice["signature"]
    assert read.json()["items"] == answer["items"]
    assert read.json()["received_at"] == answer["received_at"]
    officer = await _client(settings, "officer")
    assert (await http.get(f"/v1/notices/{notice_id}", headers=officer)).json() == read.json()
    by_other = await http.get(f"/v1/notices/{notice_id}", headers=other.headers)
    missing = await http.get(f"/v1/notices/{uuid.uuid4()}", headers=seller.headers)
    malformed = await http.get("/v1/notices/not-a-uuid", headers=seller.headers)
    assert by_other.status_code == missing.status_code == malformed.status_code == 404
    assert body_without_request_id(by_other) == body_without_request_id(missing)
    assert _codes(missing) == [("NOTICE_NOT_FOUND", None)]
    # Once cancelled: another notice cannot cancel it again, nor can it be corrected.
    second = await http.post(
        "/v1/notices", json=_notice(seller, (cancelled, "cancel")), headers=seller.headers
    )
    assert [e["code"] for e in second.json()["items"][0]["errors"]] == ["INVOICE_CANCELLED"]


async def test_a_cancelled_invoice_cannot_be_replaced_or_adjusted(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    original = seller.submission(1)
    code = await _issue(http, seller, original)
    sent = await http.post(
        "/v1/notices", json=_notice(seller, (code, "cancel")), headers=seller.headers
    )
    assert sent.json()["items"][0]["status"] == "accepted"

    replaced = await http.post(
        "/v1/invoices", json=_correction(seller, 2, original), headers=seller.headers
    )
    adjusted = await http.post(
        "/v1/invoices", json=_correction(seller, 3, original, "adjusts"), headers=seller.headers
    )

    assert (replaced.status_code, _codes(replaced)) == (
        409,
        [("ORIGINAL_CANCELLED", "/invoice/original")],
    )
    assert (adjusted.status_code, _codes(adjusted)) == (
        409,
        [("ORIGINAL_CANCELLED", "/invoice/original")],
    )


async def test_notices_refused_before_anything_changes(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    other = await make_seller(settings)
    code = await _issue(http, seller, seller.submission(1))
    good = _notice(seller, (code, "cancel"))
    tampered = {"notice": {**good["notice"], "issued_date": "2020-01-01"}, "signature": "x"}
    forged = {
        "notice": {**good["notice"], "items": [{**good["notice"]["items"][0], "reason": "khác"}]},
        "signature": good["signature"],
    }

    responses = {
        "forged": await http.post("/v1/notices", json=forged, headers=seller.headers),
        "malformed": await http.post("/v1/notices", json=tampered, headers=seller.headers),
        "not mine": await http.post("/v1/notices", json=good, headers=other.headers),
        "unsigned": await http.post(
            "/v1/notices", json={"notice": good["notice"]}, headers=seller.headers
        ),
        "extra": await http.post("/v1/notices", json={**good, "note": 1}, headers=seller.headers),
        "not json": await http.post(
            "/v1/notices",
            content=b"{",
            headers={**seller.headers, "Content-Type": "application/json"},
        ),
    }

    assert responses["forged"].status_code == 422
    assert _codes(responses["forged"]) == [("SIGNATURE_INVALID", "/signature")]
    assert responses["malformed"].status_code == 422
    assert ("ISSUE_DATE_TOO_OLD", "/notice/issued_date") in _codes(responses["malformed"])
    assert responses["not mine"].status_code == 403
    assert _codes(responses["not mine"]) == [("SELLER_MISMATCH", "/notice/seller_tax_code")]
    assert _codes(responses["unsigned"]) == [("FIELD_REQUIRED", "/signature")]
    assert _codes(responses["extra"]) == [("UNKNOWN_FIELD", "/note")]
    assert responses["not json"].status_code == 400
    assert (await _document(http, seller, code))["status"] == "authenticated"
    officer = await _client(settings, "officer")
    as_officer = await http.post("/v1/notices", json=good, headers=officer)
    assert as_officer.status_code == 403  # only businesses send notices


async def test_a_lookup_cached_before_a_change_never_brings_the_old_status_back(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    code = await _issue(http, seller, seller.submission(1))
    before = await _document(http, seller, code)
    stale = CachedDocument.of(before)  # version 0: as a fill that read before the change
    sent = await http.post(
        "/v1/notices", json=_notice(seller, (code, "cancel")), headers=seller.headers
    )
    assert sent.json()["items"][0]["status"] == "accepted"
    cache = create_redis(settings)
    try:
        # A late fill (or write-through) of the older version is refused by the cache script.
        await put_if_newer(cache, code_key(code), stale, 60)
        entry = await cache.get(code_key(code))
    finally:
        await cache.aclose()

    assert isinstance(entry, bytes)
    assert orjson.loads(CachedDocument.decode(entry).json)["status"] == "cancelled"
    assert (await _document(http, seller, code))["status"] == "cancelled"
