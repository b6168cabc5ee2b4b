"""Real-time authentication end to end: a real service process, Cassandra, PostgreSQL, Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from jwcrypto import jwk, jwt

from einvoice.config import Settings
from einvoice.invoice.samples import BUYER_TAX_CODE, sample_invoice
from einvoice.registry import admin
from einvoice.timezone import VIETNAM
from lookup.cache import CachedDocument, code_key
from lookup.redis_client import create_redis
from signing import jws
from signing.canonical import canonical_invoice_bytes, invoice_hash
from signing.seller import sign_invoice
from storage.cassandra import documents
from storage.cassandra.client import CassandraClient
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.einvoice.registry.test_registry_storage import fresh_tax_code
from tests.signing.keys import ALGORITHMS, private_key


@dataclass(frozen=True)
class Seller:
    tax_code: str
    kid: str
    alg: str
    headers: dict[str, str]

    def submission(self, number: int = 1, **changes: Any) -> dict[str, Any]:
        # Issued today: the service takes invoices up to 180 days back from its own clock.
        today = dt.datetime.now(VIETNAM).date()
        invoice = {
            **sample_invoice(seller_tax_code=self.tax_code, number=number, issued=today),
            **changes,
        }
        signature = sign_invoice(invoice, private_key(self.alg), kid=self.kid, alg=self.alg)
        return {"invoice": invoice, "signature": signature}


async def make_seller(settings: Settings, alg: str = "ES256") -> Seller:
    pool = await create_pool(settings)
    try:
        registry = Registry(pool)
        tax_code = fresh_tax_code()
        await admin.add_taxpayer(registry, tax_code, "Công ty Người Bán")
        kid = f"{tax_code}-{alg}"
        public = jws.public_jwk(private_key(alg).public_key())
        since = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)  # before the sample invoices' date
        await admin.add_key(registry, tax_code, kid, public, algorithm=alg, valid_from=since)
        issued = await admin.add_client(registry, "business", tax_code)
    finally:
        await pool.close()
    return Seller(tax_code, kid, alg, {"Authorization": f"Bearer {issued.api_key}"})


@pytest.fixture
async def seller(settings: Settings) -> Seller:
    return await make_seller(settings)


def _codes(response: httpx.Response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


@pytest.mark.parametrize("alg", ALGORITHMS)
async def test_an_invoice_is_authenticated_stored_and_verifiable(
    alg: str, settings: Settings, http: httpx.AsyncClient, cassandra: CassandraClient
) -> None:
    seller = await make_seller(settings, alg)
    submission = seller.submission()

    response = await http.post("/v1/invoices", json=submission, headers=seller.headers)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"code", "coded", "authenticated_at", "invoice_hash", "token", "verify_url"}
    assert body["coded"] is True
    canonical = canonical_invoice_bytes(submission["invoice"])
    assert body["invoice_hash"] == invoice_hash(canonical)
    # The token verifies with the published JWKS, in an independent library.
    key_set = jwk.JWKSet.from_json((await http.get("/.well-known/jwks.json")).text)
    claims = orjson.loads(jwt.JWT(jwt=body["token"], key=key_set, expected_type="JWS").claims)
    assert claims["code"] == body["code"]
    assert claims["seller_tax_code"] == seller.tax_code
    assert claims["iss"] == settings.token_issuer
    # Stored: the invoice by code (its compact document), and in the lookup cache.
    row = cassandra.session.execute(
        "SELECT * FROM invoice_documents WHERE code = %s", (bytes.fromhex(body["code"]),)
    ).one()
    stored = documents.decode(
        row["document"],
        row["token_signature"],
        code=body["code"],
        authenticated_at=row["authenticated_at"],
    )
    assert stored.canonical == canonical
    assert stored.token == body["token"]
    assert row["document"][0] == documents.FORMAT_3  # its payload left out, with its issuer
    cache = create_redis(settings)
    try:
        # Written through without the answer waiting for it: there within moments.
        deadline = time.monotonic() + 10
        while (cached := await cache.get(code_key(body["code"]))) is None:
            assert time.monotonic() < deadline, "never written through to the cache"
            await asyncio.sleep(0.05)
        assert isinstance(cached, bytes)
        entry = CachedDocument.decode(cached)
        assert entry.document["token"] == body["token"]
        assert (entry.seller, entry.buyer) == (seller.tax_code, BUYER_TAX_CODE)
    finally:
        await cache.aclose()


async def test_a_retry_gets_the_original_answer(seller: Seller, http: httpx.AsyncClient) -> None:
    submission = seller.submission(number=2)

    first = await http.post("/v1/invoices", json=submission, headers=seller.headers)
    again = await http.post("/v1/invoices", json=submission, headers=seller.headers)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()


async def test_another_invoice_under_a_used_number_is_a_conflict_naming_the_original(
    seller: Seller, http: httpx.AsyncClient
) -> None:
    first = await http.post(
        "/v1/invoices", json=seller.submission(number=3), headers=seller.headers
    )
    other = seller.submission(number=3, payment_method="TM")

    conflict = await http.post("/v1/invoices", json=other, headers=seller.headers)

    assert conflict.status_code == 409
    assert _codes(conflict) == ["INVOICE_NUMBER_USED"]
    assert conflict.json()["existing"] == {
        "code": first.json()["code"],
        "invoice_hash": first.json()["invoice_hash"],
    }


async def test_twenty_concurrent_submissions_of_one_invoice_give_one_code(
    seller: Seller, http: httpx.AsyncClient
) -> None:
    submission = seller.submission(number=4)

    responses = await asyncio.gather(
        *(http.post("/v1/invoices", json=submission, headers=seller.headers) for _ in range(20))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201]
    assert len({r.json()["code"] for r in responses}) == 1
    assert len({r.json()["token"] for r in responses}) == 1


async def test_every_rule_failure_is_reported_with_422(
    seller: Seller, http: httpx.AsyncClient
) -> None:
    submission = seller.submission(number=5)
    submission["invoice"]["totals"]["total_payable"] = "1"
    submission["invoice"]["symbol"] = "C24TAA"

    response = await http.post("/v1/invoices", json=submission, headers=seller.headers)

    assert response.status_code == 422
    assert set(_codes(response)) == {
        "SYMBOL_YEAR_MISMATCH",
        "TOTAL_PAYABLE_MISMATCH",
        "SIGNATURE_INVALID",
    }
    assert {e["field"] for e in response.json()["errors"]} == {
        "/invoice/symbol",
        "/invoice/totals/total_payable",
        "/signature",
    }


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b'{"invoice": ', "application/json", 400, "MALFORMED_JSON"),
        (b'{"invoice": "\\ud800"}', "application/json", 400, "MALFORMED_JSON"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "MALFORMED_JSON"),
        (b"\xff\xfe", "application/json", 400, "MALFORMED_JSON"),
        (b"[]", "application/json", 422, "INVALID_TYPE"),
        (
            b'{"invoice": {}, "signature": "x", "extra": 1}',
            "application/json",
            422,
            "UNKNOWN_FIELD",
        ),
        (b"{}", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"{}", "application/xml", 400, "MALFORMED_XML"),  # read as an HDon
        (b"{}", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (
            b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}',
            "application/json",
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ],
)
async def test_bad_requests_get_a_clear_4xx(
    seller: Seller,
    http: httpx.AsyncClient,
    content: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    response = await http.post(
        "/v1/invoices", content=content, headers={**seller.headers, "Content-Type": content_type}
    )

    assert response.status_code == status, response.text
    assert code in _codes(response)


async def test_a_business_submits_only_its_own_invoices(
    seller: Seller, settings: Settings, http: httpx.AsyncClient
) -> None:
    other = await make_seller(settings)

    response = await http.post("/v1/invoices", json=other.submission(), headers=seller.headers)

    assert response.status_code == 403
    assert _codes(response) == ["SELLER_MISMATCH"]


async def test_officers_and_unknown_keys_cannot_submit(
    seller: Seller, settings: Settings, http: httpx.AsyncClient
) -> None:
    pool = await create_pool(settings)
    try:
        officer = await admin.add_client(Registry(pool), "officer", None)
    finally:
        await pool.close()

    as_officer = await http.post(
        "/v1/invoices",
        json=seller.submission(),
        headers={"Authorization": f"Bearer {officer.api_key}"},
    )
    anonymous = await http.post("/v1/invoices", json=seller.submission())

    assert as_officer.status_code == 403
    assert anonymous.status_code == 401


async def test_a_suspended_taxpayer_cannot_submit(
    seller: Seller, settings: Settings, http: httpx.AsyncClient
) -> None:
    pool = await create_pool(settings)
    try:
        await admin.set_status(Registry(pool), seller.tax_code, "suspended")
    finally:
        await pool.close()

    response = None
    for _ in range(50):  # the suspension reaches the process by notification
        response = await http.post("/v1/invoices", json=seller.submission(), headers=seller.headers)
        if response.status_code == 403:
            break
        await asyncio.sleep(0.1)

    assert response is not None
    assert response.status_code == 403
    assert _codes(response) == ["TAXPAYER_NOT_ACTIVE"]


async def test_a_revoked_key_no_longer_signs_new_invoices_but_old_answers_stay(
    seller: Seller, settings: Settings, http: httpx.AsyncClient
) -> None:
    accepted = seller.submission(number=6)
    first = await http.post("/v1/invoices", json=accepted, headers=seller.headers)
    pool = await create_pool(settings)
    try:
        await Registry(pool).revoke_key(seller.tax_code, seller.kid)
    finally:
        await pool.close()

    new = None
    # A fresh number each time: one accepted before the revocation reaches the service's
    # registry cache would be answered as a repeat (200) however long the loop waits.
    for attempt in range(50):
        new = await http.post(
            "/v1/invoices", json=seller.submission(number=7 + attempt), headers=seller.headers
        )
        if new.status_code == 422:
            break
        await asyncio.sleep(0.1)
    retry = await http.post("/v1/invoices", json=accepted, headers=seller.headers)

    assert new is not None
    assert _codes(new) == ["SIGNATURE_KEY_REVOKED"]
    assert retry.status_code == 200
    assert retry.json() == first.json()


async def test_over_the_submission_limit_gets_429(seller: Seller, http: httpx.AsyncClient) -> None:
    # 100 in a burst, 50/s after: 250 at once cannot all pass (they are refused cheaply: 415).
    responses = await asyncio.gather(
        *(
            http.post(
                "/v1/invoices", content=b"{}", headers={**seller.headers, "Content-Type": "x/y"}
            )
            for _ in range(250)
        )
    )

    assert any(r.status_code == 429 for r in responses)
    limited = next(r for r in responses if r.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1


async def test_a_very_large_sellers_month_spreads_over_its_buckets(
    settings: Settings, http: httpx.AsyncClient, cassandra: CassandraClient
) -> None:
    seller = await make_seller(settings)
    pool = await create_pool(settings)
    try:
        await admin.raise_month_buckets(Registry(pool), seller.tax_code, 4)
        lowered = await admin.raise_month_buckets(Registry(pool), seller.tax_code, 2)
    finally:
        await pool.close()
    assert lowered.month_buckets == 4  # only ever raised

    for _ in range(50):  # the change reaches the process by notification
        response = await http.post(
            "/v1/invoices", json=seller.submission(number=100), headers=seller.headers
        )
        if response.status_code == 201:
            break
        await asyncio.sleep(0.1)
    for number in range(101, 124):
        response = await http.post(
            "/v1/invoices", json=seller.submission(number=number), headers=seller.headers
        )
        assert response.status_code == 201

    issued = dt.date.fromisoformat(seller.submission(number=100)["invoice"]["issued_date"])
    rows = cassandra.session.execute(
        "SELECT bucket, code FROM invoices_by_seller_month "
        "WHERE seller_tax_code = %s AND month = %s AND bucket IN (0, 1, 2, 3)",
        (seller.tax_code, issued.year * 100 + issued.month),
    ).all()
    assert len(rows) == 24
    assert len({row["bucket"] for row in rows}) > 1
