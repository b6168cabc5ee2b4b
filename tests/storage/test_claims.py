"""Claims grouped by block, against the real Cassandra: one holder per number, whatever the
grouping, and a contended group sorts taken numbers from free ones."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from prometheus_client import REGISTRY

from storage.cassandra.claims import BLOCK_SIZE, ClaimRequest, ClaimStore
from storage.cassandra.client import CassandraClient

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TTL = 3600


def request(
    series: str,
    number: int,
    digest: str = "aa",
    batch_id: uuid.UUID | None = None,
    line: int | None = None,
) -> ClaimRequest:
    code = "00" + uuid.uuid4().hex.upper()
    return ClaimRequest(
        "0314409058", "1", series, number, code, digest * 32, NOW, TTL, batch_id, line
    )


def series() -> str:
    """A symbol of its own per test: fresh partitions in the session's keyspace."""
    return "C26" + uuid.uuid4().hex[:3].upper()


def rounds() -> float:
    return sum(
        REGISTRY.get_sample_value("einvoice_claim_rounds_total", {"result": result}) or 0.0
        for result in ("applied", "contended")
    )


async def test_a_block_of_a_thousand_numbers_is_claimed_in_one_round(
    cassandra: CassandraClient,
) -> None:
    store = ClaimStore(cassandra.session)
    symbol = series()
    requests = [request(symbol, number) for number in range(BLOCK_SIZE, 2 * BLOCK_SIZE)]
    before = rounds()

    outcomes = await store.claim_group(requests)

    assert rounds() - before == 1
    assert all(outcome.created for outcome in outcomes)
    held = await store.claim_of("0314409058", "1", symbol, 1500)
    assert held is not None
    assert (held.code, held.invoice_hash) == (requests[500].code, requests[500].invoice_hash)


async def test_a_contended_block_sorts_duplicates_from_conflicts(
    cassandra: CassandraClient,
) -> None:
    store = ClaimStore(cassandra.session)
    symbol = series()
    same = await store.claim_group([request(symbol, 5, "aa")])
    other = await store.claim_group([request(symbol, 7, "bb")])
    batch = uuid.uuid1()
    group = [request(symbol, n, "aa", batch, n) for n in range(1, 11)]
    before = rounds()

    outcomes = await store.claim_group(group)

    # One round refused (5 and 7 are taken), one applied for the other eight.
    assert rounds() - before == 2
    by_number = {req.number: outcome for req, outcome in zip(group, outcomes, strict=True)}
    assert not by_number[5].created
    assert by_number[5].claim.code == same[0].claim.code  # same hash: a repeat of the holder
    assert not by_number[7].created
    assert by_number[7].claim.invoice_hash == "bb" * 32  # another invoice holds it
    assert all(by_number[n].created for n in (1, 2, 3, 4, 6, 8, 9, 10))
    assert by_number[1].claim.made_by(batch, 1)
    assert other[0].created


async def test_a_number_twice_in_one_group_is_claimed_once(cassandra: CassandraClient) -> None:
    store = ClaimStore(cassandra.session)
    symbol = series()
    first, again = request(symbol, 3), request(symbol, 3)

    outcomes = await store.claim_group([first, again])

    assert outcomes[0].created
    assert not outcomes[1].created
    assert outcomes[1].claim.code == first.code


async def test_waiting_real_time_claims_of_a_block_go_together(cassandra: CassandraClient) -> None:
    store = ClaimStore(cassandra.session)
    symbol = series()
    before = rounds()

    outcomes = await asyncio.gather(*(store.claim(request(symbol, n)) for n in range(1, 51)))

    assert all(outcome.created for outcome in outcomes)
    assert rounds() - before < 50


async def test_two_processes_claiming_the_same_numbers_get_one_holder_each(
    cassandra: CassandraClient,
) -> None:
    # Two stores stand for two processes: the grouping differs, the decision is Cassandra's.
    mine, theirs = ClaimStore(cassandra.session), ClaimStore(cassandra.session)
    symbol = series()
    numbers = range(990, 1010)  # across two blocks

    results = await asyncio.gather(
        *(
            store.claim(request(symbol, n, digest))
            for n in numbers
            for store, digest in ((mine, "aa"), (theirs, "bb"))
        )
    )

    for index, number in enumerate(numbers):
        pair = results[2 * index : 2 * index + 2]
        assert sorted(outcome.created for outcome in pair) == [False, True], number
        assert pair[0].claim == pair[1].claim
        held = await mine.claim_of("0314409058", "1", symbol, number)
        assert held is not None
        assert held.code == pair[0].claim.code
