"""Changing an invoice's state (einvoice/changes.py) against the real Cassandra and Redis: a
change whose cache entry cannot be written is not answered, and its retry completes the copies;
many changes racing on one invoice all land, in order."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket

import pytest
import redis.asyncio as redis

from einvoice.changes import Changed, InvoiceChanges
from einvoice.config import Settings
from einvoice.lifecycle import Change
from lookup.cache import CachedDocument, code_key
from storage.cassandra.client import CassandraClient
from tests.api.test_invoices import make_seller
from tests.lookup.test_service import World, world  # noqa: F401  (the fixture)


def _closed_port() -> int:
    """A local port nothing listens on: a Redis that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_change_the_cache_cannot_take_is_not_answered_and_its_retry_completes_it(
    world: World,  # noqa: F811
    settings: Settings,
    cassandra: CassandraClient,
) -> None:
    seller = await make_seller(settings)
    issued = await world.issue(seller, 1)
    code = issued["code"]
    await world.lookups.find_by_code(code)  # cached as authenticated
    invoices = world.submissions.invoices
    stored = await invoices.by_code(code)
    assert stored is not None
    down = redis.Redis(host="127.0.0.1", port=_closed_port(), socket_connect_timeout=0.5)
    cancel = Change("cancel", "notice-1")
    now = dt.datetime.now(dt.UTC)

    try:
        with pytest.raises(redis.ConnectionError):
            await InvoiceChanges(
                invoices=invoices, taxpayers=world.submissions.registry_cache, cache=down
            ).change(stored, cancel, now)
    finally:
        await down.aclose()
    decided = await invoices.states.state_of(code)
    retried = await InvoiceChanges(
        invoices=invoices, taxpayers=world.submissions.registry_cache, cache=world.cache
    ).change(stored, cancel, now)

    assert decided.status == "cancelled"  # the state was decided before the cache failed
    assert isinstance(retried, Changed)
    assert retried.state == decided  # the retry changed nothing more
    entry = await world.cache.get(code_key(code))
    assert isinstance(entry, bytes)
    assert CachedDocument.decode(entry).document["status"] == "cancelled"
    found = await world.lookups.find_by_code(code)
    assert found is not None
    assert found.document["cancelled_by"] == "notice-1"


async def test_many_changes_racing_on_one_invoice_all_land_in_order(
    world: World,  # noqa: F811
    settings: Settings,
) -> None:
    seller = await make_seller(settings)
    code = (await world.issue(seller, 1))["code"]
    invoices = world.submissions.invoices
    stored = await invoices.by_code(code)
    assert stored is not None
    changes = InvoiceChanges(
        invoices=invoices, taxpayers=world.submissions.registry_cache, cache=world.cache
    )
    adjustments = [Change("adjust", f"{n:034X}") for n in range(8)]
    explanations = [Change("explain", f"notice-{n}") for n in range(4)]

    outcomes = await asyncio.gather(
        *(
            changes.change(stored, change, dt.datetime.now(dt.UTC))
            for change in adjustments + explanations
        )
    )

    assert all(isinstance(outcome, Changed) for outcome in outcomes)
    state = await invoices.states.state_of(code)
    assert state.version == 12  # none lost
    assert state.adjusted_by == tuple(sorted(change.by for change in adjustments))
    assert state.explained_by == tuple(sorted(change.by for change in explanations))
    entry = await world.cache.get(code_key(code))
    assert isinstance(entry, bytes)
    assert CachedDocument.decode(entry).version == 12  # the newest entry stayed
