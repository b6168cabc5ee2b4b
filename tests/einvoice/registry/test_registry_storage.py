"""The registry in the real PostgreSQL: records, stable errors, no secret in clear, and caches
that drop an entry as soon as PostgreSQL notifies a change."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest

from einvoice.config import Settings
from einvoice.errors import Conflict, NotFound
from einvoice.invoice.taxcode import check_digit
from einvoice.registry import admin
from einvoice.registry.api_keys import new_api_key
from einvoice.registry.cache import RegistryCache
from einvoice.registry.public_keys import parse_public_key
from signing import jws
from storage.errors import ConstraintViolated, RecordExists, RecordMissing
from storage.postgres.notifications import RegistryListener
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.signing.keys import private_key


@pytest.fixture
async def registry(settings: Settings) -> AsyncIterator[Registry]:
    pool = await create_pool(settings)
    yield Registry(pool)
    await pool.close()


@pytest.fixture
async def listening_cache(registry: Registry, settings: Settings) -> AsyncIterator[RegistryCache]:
    """A cache that keeps entries for an hour: only a notification can refresh it."""
    cache = RegistryCache(registry, ttl_s=3600)
    listener = RegistryListener(settings, cache.on_change, cache.clear)
    listener.start()
    await asyncio.wait_for(listener.listening.wait(), 10)
    yield cache
    await listener.stop()


def fresh_tax_code() -> str:
    """A valid tax code not used before in this test database."""
    while True:
        first_nine = f"{uuid.uuid4().int % 10**9:09d}"
        digit = check_digit(first_nine)
        if digit is not None and first_nine[2:] != "0000000":
            return first_nine + str(digit)


async def test_taxpayers_keys_and_clients_round_trip(registry: Registry) -> None:
    tax_code = fresh_tax_code()
    await registry.add_taxpayer(tax_code, "Công ty TNHH Một Thành Viên")
    parsed = parse_public_key(jws.public_jwk(private_key("ES256").public_key()))
    await registry.add_key(tax_code, "k1", parsed.algorithm, parsed.jwk, None, None)
    key = new_api_key()
    await registry.add_client(key.client_id, "business", tax_code, key.secret_hash, "standard")

    taxpayer = await registry.taxpayer(tax_code)
    keys = await registry.keys_of(tax_code)
    client = await registry.client(key.client_id)

    assert taxpayer is not None
    assert taxpayer.status == "active"
    assert [(k.kid, k.algorithm, k.public_jwk) for k in keys] == [("k1", "ES256", parsed.jwk)]
    assert client is not None
    assert client.tax_code == tax_code
    assert client.secret_hash == key.secret_hash


async def test_no_secret_is_stored_in_clear(registry: Registry) -> None:
    key = new_api_key()
    await registry.add_client(key.client_id, "officer", None, key.secret_hash, "standard")
    secret = key.api_key.split("_", 2)[2]  # the secret itself may contain "_"

    rows = await registry.pool.fetch("SELECT * FROM api_clients")
    everything = repr([dict(row) for row in rows])

    assert secret not in everything
    assert key.api_key not in everything


async def test_foreseeable_failures_are_storage_errors(registry: Registry) -> None:
    tax_code = fresh_tax_code()
    await registry.add_taxpayer(tax_code, "A")
    jwk = parse_public_key(jws.public_jwk(private_key("EdDSA").public_key())).jwk
    later = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    other = fresh_tax_code()

    with pytest.raises(RecordExists) as duplicate_taxpayer:
        await registry.add_taxpayer(tax_code, "A again")
    with pytest.raises(RecordMissing) as unknown_taxpayer:
        await registry.add_key(other, "k", "EdDSA", jwk, None, None)
    await registry.add_key(tax_code, "k", "EdDSA", jwk, None, None)
    with pytest.raises(RecordExists) as duplicate_key:
        await registry.add_key(tax_code, "k", "EdDSA", jwk, None, None)
    with pytest.raises(RecordMissing) as unknown_key:
        await registry.revoke_key(tax_code, "nope")
    client_id = uuid.uuid4()
    with pytest.raises(RecordMissing) as unknown_client:
        await registry.revoke_client(client_id)
    with pytest.raises(ConstraintViolated) as backwards:
        await registry.add_key(tax_code, "k2", "EdDSA", jwk, later, later - dt.timedelta(days=1))

    assert (duplicate_taxpayer.value.entity, duplicate_taxpayer.value.key) == (
        "taxpayer",
        (tax_code,),
    )
    assert (unknown_taxpayer.value.entity, unknown_taxpayer.value.key) == ("taxpayer", (other,))
    assert (duplicate_key.value.entity, duplicate_key.value.key) == ("seller_key", (tax_code, "k"))
    assert (unknown_key.value.entity, unknown_key.value.key) == ("seller_key", (tax_code, "nope"))
    assert (unknown_client.value.entity, unknown_client.value.key) == ("api_client", (client_id,))
    assert backwards.value.entity == "seller_key"


async def test_the_registry_service_answers_them_with_stable_codes(registry: Registry) -> None:
    tax_code = fresh_tax_code()
    await admin.add_taxpayer(registry, tax_code, "A")
    jwk = jws.public_jwk(private_key("EdDSA").public_key())
    later = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

    with pytest.raises(Conflict) as duplicate_taxpayer:
        await admin.add_taxpayer(registry, tax_code, "A again")
    with pytest.raises(NotFound) as unknown_taxpayer:
        await admin.add_key(registry, fresh_tax_code(), "k", jwk)
    await admin.add_key(registry, tax_code, "k", jwk)
    with pytest.raises(Conflict) as duplicate_key:
        await admin.add_key(registry, tax_code, "k", jwk)
    with pytest.raises(NotFound) as unknown_key:
        await admin.revoke_key(registry, tax_code, "nope")
    with pytest.raises(NotFound) as unknown_client:
        await admin.revoke_client(registry, str(uuid.uuid4()))
    with pytest.raises(Conflict) as backwards:
        await admin.add_key(
            registry, tax_code, "k2", jwk, valid_from=later, valid_to=later - dt.timedelta(days=1)
        )

    codes = [
        (failure.value.details[0].code, failure.value.details[0].field)
        for failure in (
            duplicate_taxpayer,
            unknown_taxpayer,
            duplicate_key,
            unknown_key,
            unknown_client,
            backwards,
        )
    ]
    assert codes == [
        ("TAXPAYER_EXISTS", "/tax_code"),
        ("TAXPAYER_NOT_FOUND", "/tax_code"),
        ("KEY_EXISTS", "/kid"),
        ("KEY_NOT_FOUND", None),
        ("CLIENT_NOT_FOUND", None),
        ("KEY_VALIDITY_INVALID", None),
    ]


async def test_revocations_and_suspensions_reach_the_cache_by_notification(
    registry: Registry, listening_cache: RegistryCache
) -> None:
    cache = listening_cache
    tax_code = fresh_tax_code()
    await registry.add_taxpayer(tax_code, "B")
    jwk = parse_public_key(jws.public_jwk(private_key("ES256").public_key())).jwk
    await registry.add_key(tax_code, "k", "ES256", jwk, None, None)
    key = new_api_key()
    await registry.add_client(key.client_id, "business", tax_code, key.secret_hash, "standard")
    seller = await cache.seller(tax_code)
    client = await cache.client(key.client_id)
    assert seller is not None
    assert seller.active
    assert seller.keys["k"].revoked_at is None
    assert client is not None
    assert not client.revoked

    await registry.revoke_key(tax_code, "k")
    await registry.set_taxpayer_status(tax_code, "suspended")
    await registry.revoke_client(key.client_id)

    async def refreshed() -> bool:
        seller = await cache.seller(tax_code)
        client = await cache.client(key.client_id)
        return (
            seller is not None
            and not seller.active
            and seller.keys["k"].revoked_at is not None
            and client is not None
            and client.revoked
        )

    for _ in range(100):
        if await refreshed():
            break
        await asyncio.sleep(0.1)
    assert await refreshed()


async def test_unknown_entries_are_cached_too_and_appear_when_created(
    registry: Registry, listening_cache: RegistryCache
) -> None:
    cache = listening_cache
    tax_code = fresh_tax_code()
    assert await cache.seller(tax_code) is None

    await registry.add_taxpayer(tax_code, "C")

    for _ in range(100):
        if await cache.seller(tax_code) is not None:
            break
        await asyncio.sleep(0.1)
    assert await cache.seller(tax_code) is not None


async def test_concurrent_misses_share_one_query(registry: Registry) -> None:
    tax_code = fresh_tax_code()
    await registry.add_taxpayer(tax_code, "D")
    calls = 0
    original = registry.taxpayer

    async def counting(code: str):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return await original(code)

    registry.taxpayer = counting  # type: ignore[method-assign,assignment]
    cache = RegistryCache(registry)

    sellers = await asyncio.gather(*(cache.seller(tax_code) for _ in range(20)))

    assert calls == 1
    assert all(seller is sellers[0] for seller in sellers)


async def test_officer_reads_are_recorded(registry: Registry) -> None:
    officer = uuid.uuid4()

    await registry.record_officer_read(officer, "invoice", "00" + "AB" * 16)

    rows = await registry.pool.fetch(
        "SELECT kind, subject, read_at FROM officer_reads WHERE client_id = $1", officer
    )
    assert [(row["kind"], row["subject"]) for row in rows] == [("invoice", "00" + "AB" * 16)]
    assert rows[0]["read_at"] is not None
