"""Batches end to end: the API stores and queues them, real worker processes ingest them."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from einvoice.config import Settings
from einvoice.registry import admin
from ingest.queue import BatchQueue
from lookup.redis_client import create_redis
from storage.cassandra.batches import BatchStore
from storage.cassandra.bridge import execute
from storage.cassandra.client import CassandraClient
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.api.test_invoices import Seller, make_seller
from tests.support import ServerProcess


def ndjson(submissions: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(s) for s in submissions) + b"\n"


async def post_batch(http: httpx.AsyncClient, seller: Seller, body: bytes) -> httpx.Response:
    return await http.post(
        "/v1/batches",
        content=body,
        headers={**seller.headers, "Content-Type": "application/x-ndjson"},
    )


async def wait_completed(
    http: httpx.AsyncClient, seller: Seller, batch_id: str, timeout_s: float = 300
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status = (await http.get(f"/v1/batches/{batch_id}", headers=seller.headers)).json()
        if status["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return status  # type: ignore[no-any-return]
        await asyncio.sleep(0.5)


async def results(http: httpx.AsyncClient, seller: Seller, batch_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/v1/batches/{batch_id}/results", headers=seller.headers)
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [orjson.loads(line) for line in response.content.splitlines()]


def bad(submission: dict[str, Any]) -> dict[str, Any]:
    broken = orjson.loads(orjson.dumps(submission))
    broken["invoice"]["totals"]["total_payable"] = "1"
    return broken  # type: ignore[no-any-return]


async def test_a_mixed_batch_gives_exactly_the_expected_results(
    settings: Settings, http: httpx.AsyncClient, worker: ServerProcess
) -> None:
    seller = await make_seller(settings)
    # Submitted in real time first: one to repeat in the batch, one to conflict with.
    earlier = seller.submission(number=1)
    assert (
        await http.post("/v1/invoices", json=earlier, headers=seller.headers)
    ).status_code == 201
    taken = seller.submission(number=2)
    assert (await http.post("/v1/invoices", json=taken, headers=seller.headers)).status_code == 201

    lines: list[dict[str, Any]] = []
    expected: list[str] = []
    # 9,802 distinct lines, a tenth of them invalid, 196 repeated ones, and the 2 above: 10,000.
    for number in range(10, 10 + 9_802):
        submission = seller.submission(number=number)
        if number % 10 == 3:
            lines.append(bad(submission))
            expected.append("rejected")
        else:
            lines.append(submission)
            expected.append("authenticated")
        if number % 50 == 7:  # the same line again, right after it
            lines.append(submission)
            expected.append("rejected" if number % 10 == 3 else "duplicate")
    lines.append(earlier)
    expected.append("duplicate")
    lines.append(seller.submission(number=2, payment_method="TM"))  # another invoice, used number
    expected.append("rejected")

    accepted = await post_batch(http, seller, ndjson(lines))
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    assert accepted.json()["count"] == len(lines)
    assert accepted.headers["Location"] == f"/v1/batches/{batch_id}"

    status = await wait_completed(http, seller, batch_id, timeout_s=900)
    found = await results(http, seller, batch_id)

    assert len(lines) == 10_000
    assert status["status"] == "completed"
    assert [r["index"] for r in found] == list(range(len(lines)))
    # Within the batch, which of two identical lines is first authenticated is a race: compare
    # statuses per pair, and the code of the pair.
    by_status = sorted(r["status"] for r in found)
    assert by_status == sorted(expected)
    assert status["authenticated"] == expected.count("authenticated")
    assert status["duplicates"] == expected.count("duplicate")
    assert status["rejected"] == expected.count("rejected")
    earlier_answer = await http.post("/v1/invoices", json=earlier, headers=seller.headers)
    assert found[-2]["code"] == earlier_answer.json()["code"]
    conflict = found[-1]
    assert conflict["errors"][0]["code"] == "INVOICE_NUMBER_USED"
    codes = [r["code"] for r in found if r["status"] == "authenticated"]
    assert len(codes) == len(set(codes))
    assert all(r.get("token") for r in found if r["status"] == "authenticated")


async def test_a_killed_worker_is_replaced_and_every_invoice_is_authenticated_once(
    settings: Settings, http: httpx.AsyncClient, worker_env: dict[str, str], tmp_path: Path
) -> None:
    seller = await make_seller(settings)
    lines = [seller.submission(number=number) for number in range(1, 1201)]
    first = ServerProcess(["worker"], worker_env, tmp_path / "first.log")
    try:
        accepted = await post_batch(http, seller, ndjson(lines))
        batch_id = accepted.json()["batch_id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # kill it once it has done part of the batch
            status = (await http.get(f"/v1/batches/{batch_id}", headers=seller.headers)).json()
            if status["authenticated"] > 0:
                break
            await asyncio.sleep(0.2)
        first.kill()
    finally:
        first.stop()
    with ServerProcess(["worker"], worker_env, tmp_path / "second.log"):
        status = await wait_completed(http, seller, batch_id)
        found = await results(http, seller, batch_id)

    assert status["status"] == "completed"
    assert [r["status"] for r in found] == ["authenticated"] * len(lines)
    assert len({r["code"] for r in found}) == len(lines)


async def test_only_the_submitter_and_officers_see_a_batch(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    other = await make_seller(settings)
    pool = await create_pool(settings)
    try:
        officer = await admin.add_client(Registry(pool), "officer", None)
    finally:
        await pool.close()
    accepted = await post_batch(http, seller, ndjson([seller.submission()]))
    batch_id = accepted.json()["batch_id"]

    as_other = await http.get(f"/v1/batches/{batch_id}", headers=other.headers)
    as_officer = await http.get(
        f"/v1/batches/{batch_id}", headers={"Authorization": f"Bearer {officer.api_key}"}
    )
    unknown = await http.get("/v1/batches/not-an-id", headers=seller.headers)

    assert as_other.status_code == 404
    assert as_officer.status_code == 200
    assert as_officer.json()["count"] == 1
    assert unknown.status_code == 404


async def test_whole_batch_problems_are_refused_up_front_with_the_line(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    other = await make_seller(settings)
    good = orjson.dumps(seller.submission())

    malformed = await post_batch(http, seller, good + b"\n" + b'{"invoice": ' + b"\n")
    foreign = await post_batch(http, seller, good + b"\n" + orjson.dumps(other.submission()))
    not_object = await post_batch(http, seller, good + b"\n[1, 2]\n")
    empty = await post_batch(http, seller, b"\n\n")
    wrong_type = await http.post(
        "/v1/batches",
        content=good,
        headers={**seller.headers, "Content-Type": "application/json"},
    )

    assert malformed.status_code == 400
    assert malformed.json()["errors"][0] == {
        "code": "MALFORMED_JSON",
        "message": "line 2 is not valid JSON",
        "field": "/1",
    }
    assert foreign.status_code == 403
    assert foreign.json()["errors"][0]["field"] == "/1/invoice/seller/tax_code"
    assert not_object.status_code == 422
    assert not_object.json()["errors"][0]["code"] == "INVALID_LINE"
    assert empty.status_code == 422
    assert wrong_type.status_code == 415


@pytest.mark.disruptive
async def test_a_batch_survives_redis_losing_its_stream(
    settings: Settings, http: httpx.AsyncClient, worker: ServerProcess
) -> None:
    seller = await make_seller(settings)
    lines = [seller.submission(number=number) for number in range(1, 801)]
    accepted = await post_batch(http, seller, ndjson(lines))
    batch_id = accepted.json()["batch_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # lose the stream once the worker is on the batch
        status = (await http.get(f"/v1/batches/{batch_id}", headers=seller.headers)).json()
        if status["status"] != "accepted":
            break
        await asyncio.sleep(0.1)
    client = create_redis(settings)
    try:
        # The stream, its group, the pending message and the record of queued batches are gone.
        await BatchQueue(client, settings.cassandra_keyspace).delete_keys()
    finally:
        await client.aclose()

    status = await wait_completed(http, seller, batch_id)
    found = await results(http, seller, batch_id)

    assert status["status"] == "completed"
    assert [r["status"] for r in found] == ["authenticated"] * len(lines)
    assert len({r["code"] for r in found}) == len(lines)


async def test_a_batch_that_always_fails_is_marked_failed_and_the_worker_carries_on(
    settings: Settings,
    http: httpx.AsyncClient,
    cassandra: CassandraClient,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    seller = await make_seller(settings)
    broken = uuid.uuid1()
    store = BatchStore(cassandra.session)
    line = orjson.dumps(seller.submission(number=1))
    await store.save(broken, seller.tax_code, "test", [line], dt.datetime.now(dt.UTC))
    # Its stored lines cannot be decompressed any more: every attempt at it raises.
    await execute(
        cassandra.session,
        "UPDATE batch_chunks SET data = %s WHERE batch_id = %s AND chunk = 0",
        (b"not zlib", broken),
    )
    client = create_redis(settings)
    try:
        await BatchQueue(client, settings.cassandra_keyspace).enqueue(broken)
    finally:
        await client.aclose()
    log_path = tmp_path / "worker.log"

    with ServerProcess(
        ["worker"], dict(worker_env, EINVOICE_BATCH_MAX_ATTEMPTS="2"), log_path
    ) as worker:
        before = await post_batch(http, seller, ndjson([seller.submission(number=2)]))
        completed_before = await wait_completed(http, seller, before.json()["batch_id"])
        failed = await wait_completed(http, seller, str(broken))
        after = await post_batch(http, seller, ndjson([seller.submission(number=3)]))
        completed_after = await wait_completed(http, seller, after.json()["batch_id"])
        alive = worker.process.poll() is None
    log = log_path.read_text(errors="replace")

    assert failed["status"] == "failed"
    assert completed_before["status"] == completed_after["status"] == "completed"
    assert alive
    assert f"batch {broken}: attempt 1 of 2 failed" in log
    assert f"batch {broken}: marked failed after 2 failed attempts" in log


async def test_batches_accepted_before_an_api_crash_are_not_lost(
    settings: Settings,
    session_env: dict[str, str],
    http: httpx.AsyncClient,
    worker: ServerProcess,
    tmp_path: Path,
) -> None:
    from tests.support import free_port, wait_for_http

    seller = await make_seller(settings)
    port = free_port()
    env = dict(session_env, EINVOICE_HTTP_PORT=str(port))
    url = f"http://127.0.0.1:{port}"
    batch_ids = []
    for attempt in range(2):
        log = tmp_path / f"api-{attempt}.log"
        api = ServerProcess(["serve"], env, log)
        try:
            wait_for_http(f"{url}/healthz", api.process, log, timeout_s=60)
            async with httpx.AsyncClient(base_url=url, timeout=30) as own:
                numbers = range(attempt * 100 + 1, attempt * 100 + 101)
                body = ndjson([seller.submission(number=n) for n in numbers])
                accepted = await post_batch(own, seller, body)
                batch_ids.append(accepted.json()["batch_id"])
            api.kill()  # no clean shutdown
        finally:
            api.stop()

    for batch_id in batch_ids:
        status = await wait_completed(http, seller, batch_id)
        assert status["status"] == "completed"
        assert status["authenticated"] == 100


async def test_a_batch_keeps_its_request_id_from_the_post_to_the_workers_log(
    settings: Settings, http: httpx.AsyncClient, worker: ServerProcess, tmp_path: Path
) -> None:
    seller = await make_seller(settings)
    request_id = f"batch-{uuid.uuid4().hex}"
    lines = [seller.submission(number=number) for number in (1, 2, 3)]

    accepted = await http.post(
        "/v1/batches",
        content=ndjson(lines),
        headers={
            **seller.headers,
            "Content-Type": "application/x-ndjson",
            "X-Request-ID": request_id,
        },
    )
    batch_id = accepted.json()["batch_id"]
    status = await wait_completed(http, seller, batch_id)
    found = await results(http, seller, batch_id)

    assert accepted.headers["X-Request-ID"] == accepted.json()["request_id"] == request_id
    assert status["request_id"] == request_id
    assert [line["request_id"] for line in found] == [request_id] * 3
    # Log lines reach the file within half a second (einvoice/logs.py writes them in batches).
    deadline = time.monotonic() + 30
    while True:
        worker_lines = [
            orjson.loads(line)
            for line in (tmp_path / "worker.log").read_bytes().splitlines()
            if request_id.encode() in line
        ]
        completed = [line for line in worker_lines if line.get("batch_id") == batch_id]
        if completed or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert completed, "the worker logs the completed batch under its request id"
    assert completed[0]["seller"] == seller.tax_code
    assert completed[0]["authenticated"] == 3
