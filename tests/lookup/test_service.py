"""The lookup use case without HTTP: the access policy and page tokens as pure code, then the
service over the real Cassandra, PostgreSQL and Redis (invoices issued in-process through the
submission use case, as tests/einvoice/test_submission.py does)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import pytest
import redis.asyncio as redis
from hypothesis import given
from hypothesis import strategies as st

from api.auth import Principal
from api.ratelimit import RateLimiter
from einvoice.config import Settings
from einvoice.errors import InvalidRequest, NotFound, RateLimited
from einvoice.invoice.authenticate import Authority
from einvoice.invoice.samples import BUYER_TAX_CODE, sample_invoice
from einvoice.registry import admin
from einvoice.registry.cache import RegistryCache
from einvoice.submission import Submissions
from lookup.access import may_list_seller, may_read_invoice
from lookup.cache import code_key
from lookup.page_tokens import decode_page_token, encode_page_token, month_of, previous_month
from lookup.public_check import PrintedFields, PublicAnswer, same_amount
from lookup.redis_client import create_redis
from lookup.service import LookupService
from signing.authority import AuthorityKeyRing, generate_private_key_pem
from signing.seller import sign_invoice
from storage.cassandra.client import CassandraClient
from storage.cassandra.invoices import InvoiceStore
from storage.cassandra.row_writer import RowWriter
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.api.test_invoices import Seller, make_seller
from tests.einvoice.registry.test_registry_storage import fresh_tax_code
from tests.signing.keys import private_key

SELLER = "0100233488"


def business(tax_code: str) -> Principal:
    return Principal(uuid.uuid4(), "business", tax_code, "standard")


def officer(client_id: uuid.UUID | None = None) -> Principal:
    return Principal(client_id or uuid.uuid4(), "officer", None, "internal")


# -- the access policy (pure) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reader", "buyer", "allowed"),
    [
        (business(SELLER), BUYER_TAX_CODE, True),
        (business(BUYER_TAX_CODE), BUYER_TAX_CODE, True),
        (officer(), BUYER_TAX_CODE, True),
        (business("0314409059"), BUYER_TAX_CODE, False),
        (business("0314409059"), None, False),
        # Not a client the registry can hold (a business always has a tax code), and still no
        # match with an invoice that has no buyer.
        (Principal(uuid.uuid4(), "business", None, "standard"), None, False),
    ],
)
def test_who_reads_an_invoice(reader: Principal, buyer: str | None, allowed: bool) -> None:
    assert may_read_invoice(reader, SELLER, buyer) is allowed


def test_who_lists_a_sellers_invoices() -> None:
    assert may_list_seller(business(SELLER), SELLER)
    assert may_list_seller(officer(), SELLER)
    assert not may_list_seller(business(BUYER_TAX_CODE), SELLER)


# -- page tokens and months (pure) ----------------------------------------------------------------


def test_months_step_back_across_a_year() -> None:
    assert month_of(dt.date(2025, 3, 31)) == 202503
    assert previous_month(202503) == 202502
    assert previous_month(202501) == 202412


@given(st.dates(), st.text(alphabet="0123456789ABCDEF", min_size=34, max_size=34))
def test_a_page_token_round_trips(day: dt.date, code: str) -> None:
    token = encode_page_token(month_of(day), day.isoformat(), code)

    assert "=" not in token
    assert decode_page_token(token) == (month_of(day), (day, code))


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "",
        "é",
        _b64([1, 2]),
        _b64({"m": 202503, "d": "2025-03-01"}),
        _b64({"m": "March", "d": "2025-03-01", "c": "00"}),
        _b64({"m": 202503, "d": "yesterday", "c": "00"}),
    ],
)
def test_a_token_that_is_not_ours_is_an_invalid_field(token: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        decode_page_token(token)

    assert [(d.code, d.field) for d in raised.value.details] == [("INVALID_FIELD", "/page_token")]


@given(st.text(max_size=60))
def test_any_text_decodes_or_is_an_invalid_field(token: str) -> None:
    # Never another exception (a 500): a parser of client input.
    with contextlib.suppress(InvalidRequest):
        month, (day, code) = decode_page_token(token)
        assert isinstance(month, int)
        assert isinstance(day, dt.date)
        assert isinstance(code, str)


# -- the public check's pure parts ----------------------------------------------------------------


def test_every_missing_printed_field_is_named() -> None:
    with pytest.raises(InvalidRequest) as raised:
        PrintedFields(seller_tax_code=SELLER, template="").require_printed()

    assert raised.value.code == "INVALID_REQUEST"
    assert [(d.code, d.field) for d in raised.value.details] == [
        ("FIELD_REQUIRED", "/template"),
        ("FIELD_REQUIRED", "/symbol"),
        ("FIELD_REQUIRED", "/number"),
        ("FIELD_REQUIRED", "/total_payable"),
    ]


@pytest.mark.parametrize(
    ("given_amount", "same"),
    [
        ("1100000", True),
        ("1,100,000", True),
        (" 1100000.00 ", True),
        ("1100001", False),
        ("1.100.000", False),
        ("abc", False),
        (None, False),
    ],
)
def test_amounts_compare_as_decimals(given_amount: str | None, same: bool) -> None:
    assert same_amount("1100000", given_amount) is same


def test_the_public_answer_carries_no_more_than_code_date_and_status() -> None:
    document = {
        "code": "00ABC",
        "status": "authenticated",
        "token": "t",
        "invoice": {"issued_date": "2025-06-15", "buyer": {"tax_code": BUYER_TAX_CODE}},
    }

    assert PublicAnswer.of(None).as_json() == {"valid": False}
    assert PublicAnswer.of(document).as_json() == {
        "valid": True,
        "code": "00ABC",
        "issued_date": "2025-06-15",
        "status": "authenticated",
    }


# -- the service over the real stores -------------------------------------------------------------

AUTHORITY = Authority(AuthorityKeyRing.from_pems({"t-1": generate_private_key_pem()}, "t-1"), "00")
OTHER_KEYRING = AuthorityKeyRing.from_pems({"t-1": generate_private_key_pem()}, "t-1")


@dataclass
class World:
    lookups: LookupService
    submissions: Submissions
    registry: Registry
    cache: redis.Redis
    codes: list[str]

    async def issue(self, seller: Seller, number: int, **fields: Any) -> dict[str, Any]:
        """Authenticate an invoice of `seller`; its answer, with the invoice under "invoice"."""
        invoice = sample_invoice(seller_tax_code=seller.tax_code, number=number, **fields)
        signature = sign_invoice(invoice, private_key(seller.alg), kid=seller.kid, alg=seller.alg)
        answer = await self.submissions.submit(
            tax_code=seller.tax_code,
            raw_invoice=invoice,
            signature=signature,
            now=dt.datetime.now(dt.UTC),
        )
        assert answer.status == 201, answer.body
        issued: dict[str, Any] = orjson.loads(answer.body)
        self.codes.append(issued["code"])
        return {**issued, "invoice": invoice}

    async def officer_reads(self, client_id: uuid.UUID) -> list[tuple[str, str]]:
        rows = await self.registry.pool.fetch(
            "SELECT kind, subject FROM officer_reads WHERE client_id = $1 ORDER BY id", client_id
        )
        return [(row["kind"], row["subject"]) for row in rows]


@pytest.fixture
async def world(settings: Settings, cassandra: CassandraClient) -> AsyncIterator[World]:
    pool = await create_pool(settings)
    cache = create_redis(settings)
    registry = Registry(pool)
    registry_cache = RegistryCache(registry)
    invoices = InvoiceStore(cassandra.session, RowWriter(cassandra.session))
    lookups = LookupService(
        invoices=invoices,
        cache=cache,
        registry=registry,
        registry_cache=registry_cache,
        keyring=AUTHORITY.keyring,
        rate_limiter=RateLimiter(),
    )
    submissions = Submissions(authority=AUTHORITY, invoices=invoices, registry_cache=registry_cache)
    world = World(lookups, submissions, registry, cache, [])
    try:
        yield world
    finally:
        if world.codes:
            await cache.delete(*(code_key(code) for code in world.codes))
        await cache.aclose()
        await pool.close()


async def _officer(world: World) -> Principal:
    issued = await admin.add_client(world.registry, "officer", None)
    return officer(issued.client.id)


async def test_the_parties_and_officers_read_and_anyone_else_gets_the_unknown_answer(
    settings: Settings, world: World
) -> None:
    seller = await make_seller(settings)
    issued = await world.issue(seller, 1)
    code = issued["code"]
    reader = await _officer(world)
    key = (seller.tax_code, "1", issued["invoice"]["symbol"], 1)

    as_seller = await world.lookups.invoice_by_code(business(seller.tax_code), code)
    as_buyer = await world.lookups.invoice_by_key(business(BUYER_TAX_CODE), *key)
    as_officer = await world.lookups.invoice_by_code(reader, code)
    await world.lookups.invoice_by_key(reader, *key)
    with pytest.raises(NotFound) as stranger:
        await world.lookups.invoice_by_code(business(fresh_tax_code()), code)
    with pytest.raises(NotFound) as unknown:
        await world.lookups.invoice_by_code(business(seller.tax_code), "00" + "F" * 32)

    assert as_seller.document["token"] == issued["token"]
    assert as_seller.document["invoice"] == issued["invoice"]
    assert as_buyer.json == as_officer.json == as_seller.json
    assert (stranger.value.code, str(stranger.value)) == ("INVOICE_NOT_FOUND", "no such invoice")
    assert (unknown.value.code, str(unknown.value)) == (stranger.value.code, str(stranger.value))
    assert await world.officer_reads(reader.client_id) == [
        ("invoice", code),
        ("invoice", "/".join(map(str, key))),
    ]


async def test_what_is_not_a_code_is_not_looked_up(world: World) -> None:
    with pytest.raises(NotFound):
        await world.lookups.invoice_by_code(officer(), "00abc")

    assert await world.cache.get(code_key("00abc")) is None


async def test_a_sellers_listing_pages_newest_first_across_months(
    settings: Settings, world: World
) -> None:
    seller = await make_seller(settings)
    await admin.raise_month_buckets(world.registry, seller.tax_code, 2)
    days = [dt.date(2025, month, day) for month in (2, 3, 4) for day in (3, 17)]
    issued = {
        (await world.issue(seller, number, issued=day))["code"]: day
        for number, day in enumerate(days, start=1)
    }
    reader = business(seller.tax_code)
    start, end = dt.date(2025, 2, 10), dt.date(2025, 4, 10)

    collected: list[dict[str, Any]] = []
    tokens: list[str] = []
    token = None
    for _ in range(10):
        page = await world.lookups.seller_invoices(
            reader, seller.tax_code, date_from=start, date_to=end, limit=2, page_token=token
        )
        collected += page.invoices
        token = page.next_page_token
        if token is None:
            break
        tokens.append(token)

    expected = sorted(
        (code for code, day in issued.items() if start <= day <= end),
        key=lambda code: (issued[code], code),
        reverse=True,
    )
    assert [item["code"] for item in collected] == expected  # Apr 3, Mar 17, Mar 3, Feb 17
    assert len(tokens) == 2  # the page after a full last page is empty
    first = collected[0]
    assert first["issued_date"] == "2025-04-03"
    assert first["buyer_tax_code"] == BUYER_TAX_CODE
    assert Decimal(first["total_payable"]) > 0


async def test_a_listing_is_the_sellers_and_officers_and_officers_are_audited(
    settings: Settings, world: World
) -> None:
    seller = await make_seller(settings)
    reader = await _officer(world)
    start, end = dt.date(2025, 1, 1), dt.date(2025, 1, 31)
    listing = world.lookups.seller_invoices

    with pytest.raises(NotFound) as other:
        await listing(business(fresh_tax_code()), seller.tax_code, date_from=start, date_to=end)
    with pytest.raises(NotFound) as unregistered:
        await listing(reader, fresh_tax_code(), date_from=start, date_to=end)
    with pytest.raises(InvalidRequest) as backwards:
        await listing(reader, seller.tax_code, date_from=end, date_to=start)
    with pytest.raises(InvalidRequest) as bad_token:
        await listing(reader, seller.tax_code, date_from=start, date_to=end, page_token="x")
    empty = await listing(reader, seller.tax_code, date_from=start, date_to=end)

    assert other.value.code == unregistered.value.code == "SELLER_NOT_FOUND"
    assert [(d.code, d.field) for d in backwards.value.details] == [("INVALID_FIELD", "/to")]
    assert bad_token.value.details[0].field == "/page_token"
    assert (empty.invoices, empty.next_page_token) == ([], None)
    # Audited once access is granted, before the token is read.
    assert await world.officer_reads(reader.client_id) == [
        ("seller_invoices", f"{seller.tax_code} 2025-01-01..2025-01-31 x"),
        ("seller_invoices", f"{seller.tax_code} 2025-01-01..2025-01-31"),
    ]


async def test_the_public_check_of_printed_fields_and_tokens(
    settings: Settings, world: World
) -> None:
    seller = await make_seller(settings)
    issued = await world.issue(seller, 2)
    invoice = issued["invoice"]
    total = invoice["totals"]["total_payable"]
    printed = PrintedFields(
        seller_tax_code=seller.tax_code,
        template="1",
        symbol=invoice["symbol"],
        number=2,
        total_payable=f"{Decimal(total):,}",  # with thousands separators
    )
    foreign_token = OTHER_KEYRING.sign_token(
        {"code": issued["code"], "invoice_hash": issued["invoice_hash"]}
    )
    other_hash = AUTHORITY.keyring.sign_token({"code": issued["code"], "invoice_hash": "0" * 64})

    async def check(fields: PrintedFields) -> dict[str, Any]:
        return (await world.lookups.check_printed_fields(fields)).as_json()

    assert await check(printed) == {
        "valid": True,
        "code": issued["code"],
        "issued_date": invoice["issued_date"],
        "status": "authenticated",
    }
    assert await check(PrintedFields(token=issued["token"])) == await check(printed)
    assert await check(PrintedFields(**{**vars(printed), "total_payable": "1"})) == {"valid": False}
    assert await check(PrintedFields(**{**vars(printed), "number": 0})) == {"valid": False}
    assert await check(PrintedFields(token=issued["token"][:-4] + "AAAA")) == {"valid": False}
    assert await check(PrintedFields(token=foreign_token)) == {"valid": False}
    assert await check(PrintedFields(token=other_hash)) == {"valid": False}
    with pytest.raises(InvalidRequest):
        await check(PrintedFields(seller_tax_code=seller.tax_code))


async def test_the_public_check_is_limited_per_address(world: World) -> None:
    address = "192.0.2.1"  # the fixture's limiter is new: every bucket is full
    for _ in range(20):  # the burst of the "public" class
        await world.lookups.verify(PrintedFields(token="x"), caller_address=address)

    with pytest.raises(RateLimited):
        await world.lookups.verify(PrintedFields(token="x"), caller_address=address)
    # Another address has its own bucket.
    answer = await world.lookups.verify(PrintedFields(token="x"), caller_address="198.51.100.7")
    assert answer == PublicAnswer(valid=False)
