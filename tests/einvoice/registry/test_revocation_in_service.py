"""End to end, against a real `einvoice serve`: a revoked API key stops working within 5 s."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from einvoice.config import Settings
from einvoice.registry import admin
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry

DEADLINE_S = 5.0


async def test_a_revoked_key_stops_working_within_5_s(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    pool = await create_pool(settings)
    try:
        registry = Registry(pool)
        issued = await admin.add_client(registry, "officer", None)
        headers = {"Authorization": f"Bearer {issued.api_key}"}
        # An admin route: an officer's valid key gets 403 (authenticated, not allowed), a revoked
        # one 401, and nothing is changed either way.
        path = f"/v1/admin/clients/{uuid.uuid4()}/revoke"
        before = await http.post(path, headers=headers)
        again = await http.post(path, headers=headers)  # from the process's caches now

        await registry.revoke_client(issued.client.id)
        deadline = time.monotonic() + DEADLINE_S
        statuses = []
        while True:
            statuses.append((await http.post(path, headers=headers)).status_code)
            if statuses[-1] == 401 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    finally:
        await pool.close()

    assert (before.status_code, again.status_code) == (403, 403), before.text
    assert statuses[-1] == 401, statuses
