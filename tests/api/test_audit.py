"""The audit: every admin action with its result (`admin_actions`), and officers' reads of batches
(`officer_reads`), through the real service and the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from einvoice.config import Settings
from einvoice.error_codes import ErrorCode
from einvoice.errors import Unprocessable
from einvoice.registry import admin
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.api.test_admin import _issue
from tests.api.test_invoices import make_seller
from tests.einvoice.registry.test_registry_storage import fresh_tax_code


@pytest.fixture
async def registry(settings: Settings) -> AsyncIterator[Registry]:
    pool = await create_pool(settings)
    yield Registry(pool)
    await pool.close()


async def _actions_of(registry: Registry, client_id: uuid.UUID | str) -> list[tuple[Any, ...]]:
    rows = await registry.pool.fetch(
        "SELECT action, target, status, error_code, detail FROM admin_actions "
        "WHERE client_id = $1 ORDER BY id",
        uuid.UUID(str(client_id)),
    )
    return [
        (
            r["action"],
            r["target"],
            r["status"],
            r["error_code"],
            r["detail"] and orjson.loads(r["detail"]),
        )
        for r in rows
    ]


async def test_every_admin_action_is_recorded_with_its_result(
    settings: Settings, service_url: str, registry: Registry
) -> None:
    issued = await _issue(settings, "admin")
    tax_code = fresh_tax_code()
    headers = {"Authorization": f"Bearer {issued.api_key}"}
    async with httpx.AsyncClient(base_url=service_url, headers=headers, timeout=30) as as_admin:
        added = await as_admin.post("/v1/admin/taxpayers", json={"tax_code": tax_code, "name": "A"})
        again = await as_admin.post("/v1/admin/taxpayers", json={"tax_code": tax_code, "name": "A"})
        client = await as_admin.post(
            "/v1/admin/clients", json={"role": "business", "tax_code": tax_code}
        )
        no_key = await as_admin.post(f"/v1/admin/taxpayers/{tax_code}/keys/nope/revoke")
        suspended = await as_admin.patch(
            f"/v1/admin/taxpayers/{tax_code}", json={"status": "suspended"}
        )
        junk = await as_admin.patch("/v1/admin/taxpayers/12", json={"status": "active"})
        not_an_id = await as_admin.post("/v1/admin/clients/not-a-uuid/revoke")

    assert [r.status_code for r in (added, again, client, no_key, suspended, junk, not_an_id)] == [
        201, 409, 201, 404, 200, 422, 422,
    ]  # fmt: skip
    assert await _actions_of(registry, issued.client.id) == [
        ("taxpayer.add", tax_code, 201, None, {"name": "A"}),
        ("taxpayer.add", tax_code, 409, "TAXPAYER_EXISTS", {"name": "A"}),
        ("client.add", client.json()["id"], 201, None, {"role": "business", "tax_code": tax_code, "rate_limit_class": "standard"}),
        ("key.revoke", f"{tax_code}/nope", 404, "KEY_NOT_FOUND", None),
        ("taxpayer.change", tax_code, 200, None, {"status": "suspended"}),
        ("taxpayer.change", "12", 422, "TAX_CODE_FORMAT", {"status": "active"}),
        ("client.revoke", "not-a-uuid", 422, "INVALID_FIELD", None),
    ]  # fmt: skip


async def test_a_request_refused_before_its_action_is_not_one(
    settings: Settings, service_url: str, registry: Registry
) -> None:
    officer = await _issue(settings, "officer")
    issued = await _issue(settings, "admin")
    async with httpx.AsyncClient(base_url=service_url, timeout=30) as http:
        forbidden = await http.post(
            "/v1/admin/taxpayers",
            json={"tax_code": fresh_tax_code(), "name": "x"},
            headers={"Authorization": f"Bearer {officer.api_key}"},
        )
        unparsed = await http.post(
            "/v1/admin/taxpayers",
            json={"tax_code": 12},
            headers={"Authorization": f"Bearer {issued.api_key}"},
        )

    assert (forbidden.status_code, unparsed.status_code) == (403, 422)
    assert await _actions_of(registry, officer.client.id) == []
    assert await _actions_of(registry, issued.client.id) == []


async def test_a_change_commits_only_with_its_row(registry: Registry) -> None:
    who = uuid.uuid4()
    kept, undone = fresh_tax_code(), fresh_tax_code()

    async def add_then_refuse(scoped: Registry) -> None:
        await admin.add_taxpayer(scoped, undone, "B")
        raise Unprocessable("refused after the change", code=ErrorCode.INVALID_FIELD)

    with pytest.raises(Unprocessable):
        await admin.audited(
            registry, admin.AdminAction(who, "taxpayer.add", undone), add_then_refuse
        )
    # A row that cannot be written (an action name beyond the table's bound) undoes the change.
    with pytest.raises(asyncpg.CheckViolationError):
        await admin.audited(
            registry,
            admin.AdminAction(who, "x" * 51, kept),
            lambda scoped: admin.add_taxpayer(scoped, kept, "C"),
        )

    assert await registry.taxpayer(undone) is None
    assert await registry.taxpayer(kept) is None
    assert await _actions_of(registry, who) == [
        ("taxpayer.add", undone, 422, "INVALID_FIELD", None)
    ]


async def test_a_target_that_text_cannot_hold_is_recorded_replaced(registry: Registry) -> None:
    who = uuid.uuid4()

    with pytest.raises(Unprocessable):
        await admin.audited(
            registry,
            admin.AdminAction(who, "key.revoke", "0100233488/\x00\ud800" + "k" * 400),
            lambda scoped: admin.revoke_key(scoped, "0100233488", "\x00"),
        )

    ((_, target, status, code, _),) = await _actions_of(registry, who)
    assert target == "0100233488/\ufffd?" + "k" * 287  # 300 characters
    assert (status, code) == (422, "INVALID_FIELD")


async def test_officers_reads_of_a_batch_are_audited(
    settings: Settings, http: httpx.AsyncClient, registry: Registry
) -> None:
    seller = await make_seller(settings)
    officer = await _issue(settings, "officer")
    submitted = await http.post(
        "/v1/batches",
        content=orjson.dumps(seller.submission(number=7)) + b"\n",
        headers={**seller.headers, "Content-Type": "application/x-ndjson"},
    )
    batch_id = submitted.json()["batch_id"]
    as_officer = {"Authorization": f"Bearer {officer.api_key}"}

    status = await http.get(f"/v1/batches/{batch_id}", headers=as_officer)
    results = await http.get(f"/v1/batches/{batch_id}/results", headers=as_officer)
    by_seller = await http.get(f"/v1/batches/{batch_id}", headers=seller.headers)
    unknown = await http.get(f"/v1/batches/{uuid.uuid1()}", headers=as_officer)

    assert submitted.status_code == 202, submitted.text
    assert (status.status_code, results.status_code, by_seller.status_code) == (200, 200, 200)
    assert unknown.status_code == 404
    rows = await registry.pool.fetch(
        "SELECT kind, subject FROM officer_reads WHERE client_id = $1 ORDER BY id",
        officer.client.id,
    )
    assert [tuple(r) for r in rows] == [("batch", batch_id), ("batch", f"{batch_id}/results")]
