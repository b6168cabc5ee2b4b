"""The lookup use case without HTTP: the access policy as pure code, then the service over the
real Cassandra, PostgreSQL and Redis (invoices issued in-process through the submission use case,
as tests/einvoice/test_submission.py does). Page tokens, the listing's rules and the inputs'
shapes have their own modules of pure tests beside this one."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import pytest
import redis.asyncio as redis
from pydantic import SecretStr

from api.auth import Principal
from api.ratelimit import RateLimiter
from einvoice.config import Settings
from einvoice.errors import InvalidRequest, NotFound, RateLimited
from einvoice.invoice.authenticate import Authority
from einvoice.invoice.samples import BUYER_TAX_CODE, sample_invoice
from einvoice.registry import admin
from einvoice.registry.cache import RegistryCache
from einvoice.submission import Submissions
from einvoice.timezone import VIETNAM
from lookup.access import may_list_buyer, may_list_seller, may_read_invoice
from lookup.cache import code_key
from lookup.public_check import PrintedFields, PublicAnswer, same_amount
from lookup.redis_client import create_redis
from lookup.service import LookupService
from signing import jws
from signing.authority import AuthorityKeyRing, generate_private_key_pem
from signing.seller import sign_invoice
from storage.cassandra.client import CassandraClient
from storage.cassandra.invoices import InvoiceStore
from storage.cassandra.row_writer import RowWriter
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.api.test_invoices import Seller, make_seller
from tests.einvoice.registry.test_registry_storage import fresh_tax_code
from tests.signing.keys import ISSUER, private_key

SELLER = "0100233488"
TODAY = dt.datetime.now(VIETNAM).date()


def months_ago(months: int, day: int) -> dt.date:
    """Day `day` (1-28) of the month `months` before this one: with months <= 4, recent enough
    for the rules (an issue date at most 180 days old)."""
    index = TODAY.year * 12 + TODAY.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, day)


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
    "number", [0, "0", "١٢", "\uff11\uff12", "12a", "123456789", -5, 100_000_000]
)
def test_every_malformed_printed_field_is_named(number: int | str) -> None:
    fields = PrintedFields(
        seller_tax_code="0100233489",  # the check digit is 8
        template="0",
        symbol="c25taa",
        number=number,
        total_payable="1",
    )

    with pytest.raises(InvalidRequest) as raised:
        fields.require_printed()

    assert [(d.code, d.field) for d in raised.value.details] == [
        ("TAX_CODE_CHECK_DIGIT", "/seller_tax_code"),
        ("TEMPLATE_INVALID", "/template"),
        ("SYMBOL_FORMAT", "/symbol"),
        ("OUT_OF_RANGE", "/number"),
    ]


def test_a_number_typed_on_the_page_is_read_as_ascii_digits() -> None:
    fields = PrintedFields(SELLER, "1", "C25TAA", "00123", "1")

    assert fields.require_printed().number == 123


@pytest.mark.parametrize(
    ("given_amount", "same"),
    [
        ("1100000", True),
        ("1,100,000", True),
        (" 1100000.00 ", True),
        ("1100001", False),
        ("1.100.000", True),  # as Vietnamese write it
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


def _signed_by_the_authority(header: bytes, payload_b64: str) -> str:
    signing_input = jws.b64url_encode(header) + b"." + payload_b64.encode()
    key = AUTHORITY.keyring.active
    signature = jws.sign(key.alg, key.private_key, signing_input)
    return (signing_input + b"." + jws.b64url_encode(signature)).decode()


# -- the service over the real stores -------------------------------------------------------------

AUTHORITY = Authority(
    AuthorityKeyRing.from_pems({"t-1": generate_private_key_pem()}, "t-1"), "00", ISSUER
)
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
        fields.setdefault("issued", months_ago(1, 15))
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
        page_token_secret=SecretStr("a test secret of the lookup service"),
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


async def test_what_is_not_a_code_is_not_looked_up_nor_audited(world: World) -> None:
    reader = await _officer(world)
    with pytest.raises(InvalidRequest) as raised:
        await world.lookups.invoice_by_code(reader, "00abc")

    assert [(d.code, d.field) for d in raised.value.details] == [("INVALID_FIELD", "/code")]
    assert await world.cache.get(code_key("00abc")) is None
    assert await world.officer_reads(reader.client_id) == []


async def test_an_officers_lookup_that_finds_nothing_is_audited(world: World) -> None:
    reader = await _officer(world)
    unknown = "00" + uuid.uuid4().hex.upper()
    key = (fresh_tax_code(), "1", "C25TAA", 7)

    with pytest.raises(NotFound):
        await world.lookups.invoice_by_code(reader, unknown)
    with pytest.raises(NotFound):
        await world.lookups.invoice_by_key(reader, *key)
    await world.cache.delete(code_key(unknown))

    assert await world.officer_reads(reader.client_id) == [
        ("invoice", unknown),
        ("invoice", "/".join(map(str, key))),
    ]


async def test_a_malformed_business_key_is_refused_before_any_read(world: World) -> None:
    reader = await _officer(world)

    with pytest.raises(InvalidRequest) as raised:
        await world.lookups.invoice_by_key(reader, "01002334\x00", "\x00", "C25TA\x00", 0)

    assert [(d.code, d.field) for d in raised.value.details] == [
        ("TAX_CODE_FORMAT", "/seller_tax_code"),
        ("TEMPLATE_INVALID", "/template"),
        ("SYMBOL_FORMAT", "/symbol"),
        ("OUT_OF_RANGE", "/number"),
    ]
    assert await world.officer_reads(reader.client_id) == []


async def test_a_sellers_listing_pages_newest_first_across_months(
    settings: Settings, world: World
) -> None:
    seller = await make_seller(settings)
    await admin.raise_month_buckets(world.registry, seller.tax_code, 2)
    days = [months_ago(months, day) for months in (3, 2, 1) for day in (3, 17)]
    issued = {
        (await world.issue(seller, number, issued=day))["code"]: day
        for number, day in enumerate(days, start=1)
    }
    reader = business(seller.tax_code)
    start, end = months_ago(3, 10), months_ago(1, 10)

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
    assert len(expected) == 4  # the 3rd and 17th two months ago, the 3rd of the others
    assert [item["code"] for item in collected] == expected
    assert len(tokens) == 2  # the page after a full last page is empty
    first = collected[0]
    assert first["issued_date"] == months_ago(1, 3).isoformat()
    assert first["buyer_tax_code"] == BUYER_TAX_CODE
    assert Decimal(first["total_payable"]) > 0


async def test_a_listing_is_the_sellers_and_officers_and_officers_are_audited(
    settings: Settings, world: World
) -> None:
    seller = await make_seller(settings)
    reader = await _officer(world)
    unregistered_code = fresh_tax_code()
    start, end = dt.date(2025, 1, 1), dt.date(2025, 1, 31)
    listing = world.lookups.seller_invoices

    with pytest.raises(NotFound) as other:
        await listing(business(fresh_tax_code()), seller.tax_code, date_from=start, date_to=end)
    with pytest.raises(NotFound) as unregistered:
        await listing(reader, unregistered_code, date_from=start, date_to=end)
    with pytest.raises(InvalidRequest) as backwards:
        await listing(reader, seller.tax_code, date_from=end, date_to=start)
    with pytest.raises(InvalidRequest) as bad_token:
        await listing(reader, seller.tax_code, date_from=start, date_to=end, page_token="x")
    with pytest.raises(InvalidRequest) as not_a_tax_code:
        await listing(reader, "0100233488\x00", date_from=start, date_to=end)
    empty = await listing(reader, seller.tax_code, date_from=start, date_to=end)

    assert other.value.code == unregistered.value.code == "SELLER_NOT_FOUND"
    assert [(d.code, d.field) for d in backwards.value.details] == [("INVALID_FIELD", "/to")]
    assert [(d.code, d.field) for d in bad_token.value.details] == [
        ("INVALID_FIELD", "/page_token")
    ]
    assert [(d.code, d.field) for d in not_a_tax_code.value.details] == [
        ("TAX_CODE_FORMAT", "/tax_code")
    ]
    assert (empty.invoices, empty.next_page_token) == ([], None)
    # Audited once access is granted, found or not; a refused request read nothing.
    assert await world.officer_reads(reader.client_id) == [
        ("seller_invoices", f"{unregistered_code} 2025-01-01..2025-01-31"),
        ("seller_invoices", f"{seller.tax_code} 2025-01-01..2025-01-31"),
    ]


async def test_a_listings_range_is_bounded_and_its_tokens_bound_to_it(
    settings: Settings, world: World
) -> None:
    seller = await make_seller(settings)
    days = [months_ago(2, day) for day in (3, 10, 17)]
    for number, day in enumerate(days, start=1):
        await world.issue(seller, number, issued=day)
    reader = business(seller.tax_code)
    listing = world.lookups.seller_invoices
    start, end = TODAY - dt.timedelta(days=365), TODAY  # the longest range: 366 days

    first = await listing(reader, seller.tax_code, date_from=start, date_to=end, limit=2)
    assert first.next_page_token is not None
    token = first.next_page_token
    second = await listing(
        reader, seller.tax_code, date_from=start, date_to=end, limit=2, page_token=token
    )
    refused = []
    for date_from, date_to, limit in [
        (start, end - dt.timedelta(days=1), 2),  # another range
        (start + dt.timedelta(days=1), end, 2),
        (start, end, 3),  # another limit
    ]:
        with pytest.raises(InvalidRequest) as raised:
            await listing(
                reader,
                seller.tax_code,
                date_from=date_from,
                date_to=date_to,
                limit=limit,
                page_token=token,
            )
        refused.append([(d.code, d.field) for d in raised.value.details])
    with pytest.raises(InvalidRequest) as too_long:
        await listing(reader, seller.tax_code, date_from=start - dt.timedelta(days=1), date_to=end)
    whole_leap_year = await listing(
        reader, seller.tax_code, date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 12, 31)
    )
    far_future = await listing(
        reader, seller.tax_code, date_from=dt.date(9999, 1, 1), date_to=dt.date(9999, 12, 31)
    )
    year_one = await listing(
        reader, seller.tax_code, date_from=dt.date(1, 1, 1), date_to=dt.date(1, 12, 31)
    )

    assert [item["issued_date"] for item in first.invoices + second.invoices] == [
        day.isoformat() for day in reversed(days)
    ]
    assert second.next_page_token is None
    assert refused == [[("INVALID_FIELD", "/page_token")]] * 3
    assert [(d.code, d.field) for d in too_long.value.details] == [("RANGE_TOO_LONG", "/to")]
    assert whole_leap_year.invoices == far_future.invoices == year_one.invoices == []
    assert far_future.next_page_token is None


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
    # The issued claims under a header naming its kid twice, signed by the authority's own key
    # over exactly those bytes: refused as it reads, whatever its signature (docs/signing.md).
    repeating = _signed_by_the_authority(
        b'{"alg":"ES256","kid":"t-1","kid":"t-1","typ":"JWT"}', issued["token"].split(".")[1]
    )

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
    assert await check(PrintedFields(**{**vars(printed), "number": 99_999_999})) == {"valid": False}
    assert await check(PrintedFields(token=issued["token"][:-4] + "AAAA")) == {"valid": False}
    assert await check(PrintedFields(token=foreign_token)) == {"valid": False}
    assert await check(PrintedFields(token=other_hash)) == {"valid": False}
    assert await check(PrintedFields(token=repeating)) == {"valid": False}
    with pytest.raises(InvalidRequest):
        await check(PrintedFields(seller_tax_code=seller.tax_code))
    with pytest.raises(InvalidRequest):
        await check(PrintedFields(**{**vars(printed), "number": 0}))


async def test_the_public_check_is_limited_per_address(world: World) -> None:
    address = "192.0.2.1"  # the fixture's limiter is new: every bucket is full
    for _ in range(20):  # the burst of the "public" class
        await world.lookups.verify(PrintedFields(token="x"), caller_address=address)

    with pytest.raises(RateLimited):
        await world.lookups.verify(PrintedFields(token="x"), caller_address=address)
    # Another address has its own bucket.
    answer = await world.lookups.verify(PrintedFields(token="x"), caller_address="198.51.100.7")
    assert answer == PublicAnswer(valid=False)


# -- a buyer's listing ----------------------------------------------------------------------------


def test_who_lists_a_buyers_invoices() -> None:
    assert may_list_buyer(business(BUYER_TAX_CODE), BUYER_TAX_CODE)
    assert may_list_buyer(officer(), BUYER_TAX_CODE)
    assert not may_list_buyer(business(SELLER), BUYER_TAX_CODE)  # a seller of theirs, too


async def _registered_buyer(world: World, buckets: int = 1) -> str:
    tax_code = fresh_tax_code()
    await admin.add_taxpayer(world.registry, tax_code, "Công ty Người Mua")
    if buckets > 1:
        await admin.raise_month_buckets(world.registry, tax_code, buckets)
    return tax_code


async def test_a_buyers_listing_pages_newest_first_across_months_and_sellers(
    settings: Settings, world: World
) -> None:
    buyer = await _registered_buyer(world, buckets=2)
    sellers = [await make_seller(settings), await make_seller(settings)]
    issued: dict[str, tuple[dt.date, str]] = {}
    number = 0
    for months in (3, 2, 1):
        for seller in sellers:
            number += 1
            day = months_ago(months, 5 + number)
            answer = await world.issue(seller, number, issued=day, buyer_tax_code=buyer)
            issued[answer["code"]] = (day, seller.tax_code)
    # Another buyer's invoice, and one without a buyer's tax code, are not in this listing.
    await world.issue(sellers[0], 100, buyer_tax_code=await _registered_buyer(world))
    await world.issue(sellers[0], 101, buyer_tax_code=None)
    reader = business(buyer)
    start, end = months_ago(3, 1), TODAY

    collected: list[dict[str, Any]] = []
    token = None
    for _ in range(10):
        page = await world.lookups.buyer_invoices(
            reader, buyer, date_from=start, date_to=end, limit=4, page_token=token
        )
        collected += page.invoices
        token = page.next_page_token
        if token is None:
            break

    expected = sorted(issued, key=lambda code: (issued[code][0], code), reverse=True)
    assert [item["code"] for item in collected] == expected
    first = collected[0]
    assert set(first) == {
        "code",
        "seller_tax_code",
        "template",
        "symbol",
        "number",
        "issued_date",
        "total_payable",
        "status",
    }
    assert (first["issued_date"], first["seller_tax_code"]) == (
        issued[first["code"]][0].isoformat(),
        issued[first["code"]][1],
    )
    assert first["status"] == "authenticated"


async def test_a_buyers_listing_is_the_buyers_and_officers_and_officers_are_audited(
    settings: Settings, world: World
) -> None:
    buyer = await _registered_buyer(world)
    seller = await make_seller(settings)
    await world.issue(seller, 1, buyer_tax_code=buyer)
    reader = await _officer(world)
    unregistered = fresh_tax_code()
    start, end = months_ago(2, 1), TODAY
    listing = world.lookups.buyer_invoices

    with pytest.raises(NotFound) as other:
        await listing(business(fresh_tax_code()), buyer, date_from=start, date_to=end)
    with pytest.raises(NotFound) as its_seller:
        await listing(business(seller.tax_code), buyer, date_from=start, date_to=end)
    with pytest.raises(NotFound) as unknown:
        await listing(reader, unregistered, date_from=start, date_to=end)
    seen = await listing(reader, buyer, date_from=start, date_to=end, limit=1)
    # A seller listing's token (a full page always has one) for the same tax code, range and
    # limit: refused by the buyer listing, whose tokens are bound to it.
    sellers_page = await world.lookups.seller_invoices(
        business(seller.tax_code), seller.tax_code, date_from=start, date_to=end, limit=1
    )

    assert other.value.code == its_seller.value.code == unknown.value.code == "BUYER_NOT_FOUND"
    assert [item["seller_tax_code"] for item in seen.invoices] == [seller.tax_code]
    assert await world.officer_reads(reader.client_id) == [
        ("buyer_invoices", f"{unregistered} {start}..{end}"),
        ("buyer_invoices", f"{buyer} {start}..{end}"),
    ]
    assert sellers_page.next_page_token is not None
    with pytest.raises(InvalidRequest) as borrowed:
        await listing(
            business(seller.tax_code),
            seller.tax_code,
            date_from=start,
            date_to=end,
            limit=1,
            page_token=sellers_page.next_page_token,
        )
    assert [(d.code, d.field) for d in borrowed.value.details] == [("INVALID_FIELD", "/page_token")]
