"""/readyz turns 503, naming the backend, while one is stopped, and 200 again once it is back.

These stop and restart servers of the shared local stack, so they run last (marker
`disruptive`) and only against servers the stack started itself.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

import devstack as stack
from einvoice.config import Settings

pytestmark = pytest.mark.disruptive


async def _readiness(http: httpx.AsyncClient) -> httpx.Response:
    return await http.get("/readyz")


async def _wait_for_status(
    http: httpx.AsyncClient, status: int, timeout_s: float
) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = await _readiness(http)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.5)


@pytest.mark.parametrize("backend", ["redis", "postgres", "cassandra"])
async def test_readyz_names_a_stopped_backend_and_recovers(
    http: httpx.AsyncClient, base_settings: Settings, backend: str
) -> None:
    (server,) = stack.servers(base_settings, [backend])
    if server.process.running_pid() is None:
        pytest.skip(
            f"{backend} is not run by the local stack; the test never stops others' servers"
        )
    # A server an earlier test restarted may take the service a moment to reconnect to.
    assert (await _wait_for_status(http, 200, timeout_s=60)).status_code == 200

    await asyncio.to_thread(stack.down, base_settings, [backend])
    try:
        down = await _wait_for_status(http, 503, timeout_s=30)
        assert down.status_code == 503
        assert down.headers["Retry-After"]
        assert down.json()["unavailable"] == [backend]
        # Only the verdict: the driver's error text (hosts, users) goes to the log, not to anyone.
        assert down.json()["checks"][backend] == "unavailable"
    finally:
        await asyncio.to_thread(stack.up, base_settings, [backend])

    back = await _wait_for_status(http, 200, timeout_s=60)
    assert back.status_code == 200, back.text


async def test_a_request_needing_postgresql_while_it_is_down_gets_503_not_500(
    http: httpx.AsyncClient, base_settings: Settings
) -> None:
    import uuid

    (server,) = stack.servers(base_settings, ["postgres"])
    if server.process.running_pid() is None:
        pytest.skip(
            "PostgreSQL is not run by the local stack; the test never stops others' servers"
        )
    # A key of a client this process has never seen: its lookup must go to PostgreSQL.
    headers = {"Authorization": f"Bearer einv_{uuid.uuid4().hex}_{'A' * 43}"}

    await asyncio.to_thread(stack.down, base_settings, ["postgres"])
    try:
        during = await http.get(f"/v1/invoices/{'00' + 'A' * 32}", headers=headers)
    finally:
        await asyncio.to_thread(stack.up, base_settings, ["postgres"])

    assert during.status_code == 503, during.text
    assert during.json()["errors"][0]["code"] == "BACKEND_UNAVAILABLE"
    assert during.headers["Retry-After"]
