"""Cheap abuse: random API keys are limited per caller address before they cost a registry lookup.

Through a real service that trusts X-Forwarded-For from loopback, so that each test is its own
caller address (and the session's shared service is never held back by these floods); and the
order (the limit before the lookup) on the pure function, with a registry stand-in that counts.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import cast

import httpx
import pytest
from starlette.requests import Request

from api.auth import authenticated
from api.lifespan import Clients
from api.ratelimit import LIMITS, RateLimiter
from einvoice.config import Settings
from einvoice.errors import RateLimited, Unauthenticated
from einvoice.registry.api_keys import NewApiKey, new_api_key
from einvoice.registry.cache import Client
from tests.api.test_admin import _issue
from tests.support import running_service

FAILURES = LIMITS["public"]["authenticate"]


def _random_key() -> str:
    return f"einv_{uuid.uuid4().hex}_{'A' * 43}"


def _address() -> str:
    # A documentation range (RFC 5737): one of its own for every test.
    return f"198.51.100.{random.randrange(1, 255)}"


# -- the order, without servers --------------------------------------------------------------------


@dataclass
class _CountingDirectory:
    """Stands in for the registry cache: counts the client lookups a key check asks for."""

    lookups: int = 0

    async def client(self, client_id: uuid.UUID) -> Client | None:
        self.lookups += 1
        return None


@dataclass
class _Clients:
    settings: Settings
    registry_cache: _CountingDirectory | _ReloadingDirectory = field(
        default_factory=_CountingDirectory
    )
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)


def _request(clients: _Clients, address: str) -> Request:
    authorization = f"Bearer {_random_key()}".encode()
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": [(b"authorization", authorization)],
            "client": (address, 40000),
            "state": {"clients": clients},
        }
    )


async def test_an_address_over_its_failures_is_refused_before_any_lookup() -> None:
    directory = _CountingDirectory()
    clients = _Clients(Settings(), registry_cache=directory)

    for _ in range(FAILURES.burst):
        with pytest.raises(Unauthenticated):
            await authenticated(_request(clients, "203.0.113.5"), cast(Clients, clients))
    with pytest.raises(RateLimited) as refused:
        await authenticated(_request(clients, "203.0.113.5"), cast(Clients, clients))
    lookups_of_the_flood = directory.lookups
    with pytest.raises(Unauthenticated):  # another address is not held back
        await authenticated(_request(clients, "203.0.113.6"), cast(Clients, clients))

    assert lookups_of_the_flood == FAILURES.burst
    assert (refused.value.retry_after_s or 0) >= 1
    assert directory.lookups == FAILURES.burst + 1


@dataclass
class _ReloadingDirectory:
    """Stands in for a registry cache whose entry expires on every request: equal clients, each
    time a new object."""

    key: NewApiKey

    async def client(self, client_id: uuid.UUID) -> Client | None:
        if client_id != self.key.client_id:
            return None
        return Client(client_id, "officer", None, self.key.secret_hash, "standard", revoked=False)


async def test_a_verified_key_reloaded_unchanged_needs_no_full_check() -> None:
    key = new_api_key()
    clients = _Clients(Settings(), registry_cache=_ReloadingDirectory(key))
    valid = Request({**_request(clients, "203.0.113.7").scope, "headers": [
        (b"authorization", f"Bearer {key.api_key}".encode())
    ]})  # fmt: skip
    await authenticated(valid, cast(Clients, clients))
    for _ in range(FAILURES.burst):
        with pytest.raises(Unauthenticated):
            await authenticated(_request(clients, "203.0.113.7"), cast(Clients, clients))

    principal = await authenticated(valid, cast(Clients, clients))  # the bucket is empty

    assert principal.client_id == key.client_id


# -- through a real service ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxied_url(
    session_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A service that believes X-Forwarded-For from loopback (a proxy on the same host)."""
    log_path = tmp_path_factory.mktemp("proxied") / "service.log"
    with running_service(session_env, log_path, TRUSTED_PROXIES="127.0.0.0/8,::1/128") as url:
        yield url


@pytest.fixture
async def proxied(proxied_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=proxied_url, timeout=30) as client:
        yield client


async def _flood(proxied: httpx.AsyncClient, address: str, count: int) -> list[httpx.Response]:
    """`count` requests with random keys at once, as the caller `address`."""
    return await asyncio.gather(
        *(
            proxied.get(
                f"/v1/batches/{uuid.uuid1()}",
                headers={"Authorization": f"Bearer {_random_key()}", "X-Forwarded-For": address},
            )
            for _ in range(count)
        )
    )


async def test_random_keys_from_one_address_get_429_with_retry_after(
    proxied: httpx.AsyncClient,
) -> None:
    attacker, neighbour = _address(), _address()
    while neighbour == attacker:
        neighbour = _address()

    # Six times the burst at once: the refill while they are answered cannot cover that.
    responses = await _flood(proxied, attacker, 6 * FAILURES.burst)
    neighbours = await _flood(proxied, neighbour, 1)

    limited = [r for r in responses if r.status_code == 429]
    assert limited
    assert {r.status_code for r in responses} == {401, 429}
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert [e["code"] for e in limited[0].json()["errors"]] == ["RATE_LIMITED"]
    assert neighbours[0].status_code == 401


async def test_a_key_already_verified_is_not_held_back_by_its_address(
    settings: Settings, proxied: httpx.AsyncClient
) -> None:
    officer = await _issue(settings, "officer")
    shared = _address()
    headers = {"Authorization": f"Bearer {officer.api_key}", "X-Forwarded-For": shared}
    path = f"/v1/batches/{uuid.uuid1()}"
    before = await proxied.get(path, headers=headers)

    flood = await _flood(proxied, shared, 6 * FAILURES.burst)
    after = await proxied.get(path, headers=headers)

    assert any(r.status_code == 429 for r in flood)
    assert before.status_code == after.status_code == 404  # authenticated: no such batch
    assert [e["code"] for e in after.json()["errors"]] == ["BATCH_NOT_FOUND"]
