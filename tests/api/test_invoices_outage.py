"""With Cassandra stopped, a submission gets 503 + Retry-After and nothing is stored; once it is
back, the same submission is authenticated afresh (201). Stops a server of the shared stack, so it
runs last (marker `disruptive`)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

import devstack as stack
from einvoice.config import Settings
from tests.api.test_invoices import make_seller

pytestmark = pytest.mark.disruptive


async def test_cassandra_down_gives_503_and_nothing_half_stored(
    settings: Settings, base_settings: Settings, http: httpx.AsyncClient
) -> None:
    (node,) = stack.servers(base_settings, ["cassandra"])
    if node.process.running_pid() is None:
        pytest.skip("Cassandra is not run by the local stack; the test never stops others' servers")
    seller = await make_seller(settings)
    submission = seller.submission(number=77)

    await asyncio.to_thread(stack.down, base_settings, ["cassandra"])
    try:
        during = await http.post("/v1/invoices", json=submission, headers=seller.headers)
    finally:
        await asyncio.to_thread(stack.up, base_settings, ["cassandra"])

    assert during.status_code == 503, during.text
    assert during.headers["Retry-After"]
    assert [e["code"] for e in during.json()["errors"]] == ["BACKEND_UNAVAILABLE"]

    deadline = time.monotonic() + 90
    after = during
    while time.monotonic() < deadline:
        after = await http.post("/v1/invoices", json=submission, headers=seller.headers)
        if after.status_code != 503:
            break
        await asyncio.sleep(1)
    assert after.status_code == 201, after.text  # the first attempt stored nothing
