"""Issue 12's guarantees with real processes: one acceptance per number whichever path wins,
nothing acknowledged lost when a worker or the service is killed, every result readable."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from einvoice.config import Settings
from storage.cassandra.client import CassandraClient
from storage.cassandra.invoices import InvoiceStore
from storage.cassandra.row_writer import RowWriter
from tests.api.test_invoices import Seller, make_seller
from tests.ingest.test_batches import ndjson, post_batch, results, wait_completed
from tests.support import ServerProcess, free_port, wait_for_http


def store(cassandra: CassandraClient) -> InvoiceStore:
    return InvoiceStore(cassandra.session, RowWriter(cassandra.session))


async def all_readable(cassandra: CassandraClient, answers: dict[str, str]) -> list[str]:
    """Codes (of code -> token) whose invoice cannot be read back with that token."""
    invoices = store(cassandra)
    limit = asyncio.Semaphore(64)

    async def missing(code: str, token: str) -> str | None:
        async with limit:
            stored = await invoices.by_code(code)
        return None if stored is not None and stored.token == token else code

    found = await asyncio.gather(*(missing(code, token) for code, token in answers.items()))
    return [code for code in found if code is not None]


async def test_each_number_is_accepted_once_whether_real_time_or_batch_wins(
    settings: Settings,
    http: httpx.AsyncClient,
    worker: ServerProcess,
    cassandra: CassandraClient,
) -> None:
    seller = await make_seller(settings)
    numbers = range(1, 1001)
    # Two invoices per number; for half of the numbers the first goes in real time and the
    # second in a batch, for the other half the other way round: 1,000 real-time, 1,000 batch.
    first = {n: seller.submission(number=n) for n in numbers}
    second = {n: seller.submission(number=n, payment_method="TM") for n in numbers}
    realtime = [first[n] if n % 2 else second[n] for n in numbers]
    batched = [second[n] if n % 2 else first[n] for n in numbers]
    limit = asyncio.Semaphore(32)

    async def submit(body: dict[str, Any]) -> httpx.Response:
        async with limit:
            while True:  # as accounting software does: wait when asked to (429)
                response = await http.post("/v1/invoices", json=body, headers=seller.headers)
                if response.status_code != 429:
                    return response
                await asyncio.sleep(min(1.0, float(response.headers.get("Retry-After", 1))))

    async def batches() -> list[dict[str, Any]]:
        ids = []
        for start in range(0, 1000, 250):
            accepted = await post_batch(http, seller, ndjson(batched[start : start + 250]))
            assert accepted.status_code == 202, accepted.text
            ids.append(accepted.json()["batch_id"])
        found = []
        for batch_id in ids:
            assert (await wait_completed(http, seller, batch_id))["status"] == "completed"
            found += await results(http, seller, batch_id)
        return found

    answers, lines = await asyncio.gather(
        asyncio.gather(*(submit(body) for body in realtime)), batches()
    )

    winners: dict[int, str] = {}
    tokens: dict[str, str] = {}
    for number, response in zip(numbers, answers, strict=True):
        assert response.status_code in (201, 409), response.text
        if response.status_code == 201:
            winners[number] = response.json()["code"]
            tokens[response.json()["code"]] = response.json()["token"]
    for number, line in zip(numbers, lines, strict=True):
        assert line["status"] in ("authenticated", "rejected"), line
        if line["status"] == "authenticated":
            assert number not in winners, f"{number} accepted twice"
            winners[number] = line["code"]
            tokens[line["code"]] = line["token"]
    assert sorted(winners) == list(numbers)
    # Every other attempt names the winner.
    for number, response in zip(numbers, answers, strict=True):
        if response.status_code == 409:
            assert response.json()["existing"]["code"] == winners[number]
    for number, line in zip(numbers, lines, strict=True):
        if line["status"] == "rejected":
            assert line["errors"][0]["code"] == "INVOICE_NUMBER_USED"
            assert line["code"] == winners[number]
    assert await all_readable(cassandra, tokens) == []


async def test_a_worker_killed_mid_batch_leaves_one_result_a_line_all_readable(
    settings: Settings,
    http: httpx.AsyncClient,
    worker_env: dict[str, str],
    cassandra: CassandraClient,
    tmp_path: Path,
) -> None:
    seller = await make_seller(settings)
    lines = [seller.submission(number=number) for number in range(1, 10_001)]
    first = ServerProcess(["worker"], worker_env, tmp_path / "first.log")
    try:
        accepted = await post_batch(http, seller, ndjson(lines))
        batch_id = accepted.json()["batch_id"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # killed once part of the batch has results
            status = (await http.get(f"/v1/batches/{batch_id}", headers=seller.headers)).json()
            if status["authenticated"] > 0:
                break
            await asyncio.sleep(0.1)
        first.kill()
    finally:
        first.stop()
    assert status["status"] == "processing"
    assert 0 < status["authenticated"] < len(lines)
    with ServerProcess(["worker"], worker_env, tmp_path / "second.log"):
        status = await wait_completed(http, seller, batch_id, timeout_s=600)
        found = await results(http, seller, batch_id)

    assert status["status"] == "completed"
    assert [r["index"] for r in found] == list(range(len(lines)))
    assert [r["status"] for r in found] == ["authenticated"] * len(lines)
    assert len({r["code"] for r in found}) == len(lines)
    assert await all_readable(cassandra, {r["code"]: r["token"] for r in found}) == []


async def test_every_201_of_a_service_killed_under_load_is_readable(
    settings: Settings,
    session_env: dict[str, str],
    cassandra: CassandraClient,
    tmp_path: Path,
) -> None:
    seller: Seller = await make_seller(settings)
    port = free_port()
    env = dict(session_env, EINVOICE_HTTP_PORT=str(port))
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "service.log"
    created: dict[str, str] = {}
    enough = asyncio.Event()
    bodies = iter([seller.submission(number=number) for number in range(1, 5001)])

    async def submitter(client: httpx.AsyncClient) -> None:
        for body in bodies:
            try:
                response = await client.post("/v1/invoices", json=body, headers=seller.headers)
            except httpx.HTTPError:
                return  # the service is gone
            if response.status_code == 201:
                created[response.json()["code"]] = response.json()["token"]
                if len(created) >= 300:
                    enough.set()

    service = ServerProcess(["serve"], env, log_path)
    try:
        wait_for_http(f"{url}/healthz", service.process, log_path, timeout_s=60)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            load = [asyncio.create_task(submitter(client)) for _ in range(32)]
            await asyncio.wait_for(enough.wait(), timeout=120)
            service.kill()  # SIGKILL, with submissions in flight
            await asyncio.gather(*load)
    finally:
        service.stop()

    assert len(created) >= 300
    assert await all_readable(cassandra, created) == []
