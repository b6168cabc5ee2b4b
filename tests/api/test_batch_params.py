"""Parameters of the batch and admin routes: whatever text arrives, a stable 4xx, never a 500; and
a batch from a taxpayer that is not active is refused at submission, as real time refuses it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from einvoice.config import Settings
from einvoice.error_codes import ErrorCode
from einvoice.registry import admin
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.api.test_invoices import make_seller

ARABIC_INDIC = "".join(chr(0x0660 + digit) for digit in range(10))  # U+0660..U+0669


async def _key(settings: Settings, role: str) -> dict[str, str]:
    """Headers of a new client of `role`, in the `internal` class: many requests, no 429."""
    pool = await create_pool(settings)
    try:
        issued = await admin.add_client(Registry(pool), role, None, "internal")
    finally:
        await pool.close()
    return {"Authorization": f"Bearer {issued.api_key}"}


@pytest.fixture(scope="module")
async def as_admin(settings: Settings) -> dict[str, str]:
    return await _key(settings, "admin")


@pytest.fixture(scope="module")
async def as_officer(settings: Settings) -> dict[str, str]:
    return await _key(settings, "officer")


def _codes(response: httpx.Response) -> list[tuple[str, str | None]]:
    return [(error["code"], error.get("field")) for error in response.json()["errors"]]


@pytest.mark.parametrize("suffix", ["", "/results"])
@pytest.mark.parametrize(
    "batch_id",
    [
        str(uuid.uuid4()),  # a random UUID: batch ids are time-based (version 1)
        str(uuid.uuid1()),  # time-based, but no such batch
        "not-a-uuid",
        "0" * 36,
        ARABIC_INDIC * 3 + "00",  # digits Python's int() reads, 32 of them
        "x" * 5000,
    ],
)
async def test_a_batch_id_that_names_no_batch_is_404(
    http: httpx.AsyncClient, as_officer: dict[str, str], batch_id: str, suffix: str
) -> None:
    response = await http.get(f"/v1/batches/{quote(batch_id)}{suffix}", headers=as_officer)

    assert response.status_code == 404, response.text
    assert _codes(response) == [("BATCH_NOT_FOUND", None)]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "field"),
    [
        ("PATCH", "/v1/admin/taxpayers/abc", {"status": "active"}, 422, "TAX_CODE_FORMAT", "/tax_code"),
        ("PATCH", f"/v1/admin/taxpayers/{quote(ARABIC_INDIC)}", {"status": "active"}, 422, "TAX_CODE_FORMAT", "/tax_code"),
        ("PATCH", f"/v1/admin/taxpayers/{'1' * 5000}", {"status": "active"}, 422, "TAX_CODE_FORMAT", "/tax_code"),
        ("PATCH", "/v1/admin/taxpayers/0100233487", {"status": "active"}, 422, "TAX_CODE_CHECK_DIGIT", "/tax_code"),
        ("PATCH", "/v1/admin/taxpayers/0107001729", {"status": "active"}, 404, "TAXPAYER_NOT_FOUND", "/tax_code"),
        ("POST", "/v1/admin/taxpayers/%00/keys", {"kid": "k", "public_key": "x"}, 422, "TAX_CODE_FORMAT", "/tax_code"),
        ("POST", "/v1/admin/taxpayers/0100233488/keys/%00/revoke", None, 422, "INVALID_FIELD", "/kid"),
        ("POST", f"/v1/admin/taxpayers/0100233488/keys/{'k' * 201}/revoke", None, 422, "INVALID_FIELD", "/kid"),
        ("POST", f"/v1/admin/clients/{quote(ARABIC_INDIC * 3 + '00')}/revoke", None, 422, "INVALID_FIELD", "/id"),
        ("POST", f"/v1/admin/clients/{{{uuid.uuid4()}}}/revoke", None, 422, "INVALID_FIELD", "/id"),
        ("POST", f"/v1/admin/clients/{uuid.uuid4().hex}/revoke", None, 422, "INVALID_FIELD", "/id"),
        ("POST", f"/v1/admin/clients/{'f' * 5000}/revoke", None, 422, "INVALID_FIELD", "/id"),
        ("POST", f"/v1/admin/clients/{str(uuid.uuid4()).upper()}/revoke", None, 404, "CLIENT_NOT_FOUND", None),
    ],
)  # fmt: skip
async def test_admin_path_parameters_get_stable_codes(
    http: httpx.AsyncClient,
    as_admin: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    code: str,
    field: str | None,
) -> None:
    response = await http.request(method, path, json=body, headers=as_admin)

    assert response.status_code == status, response.text
    assert _codes(response) == [(code, field)]


_ROUTES = [
    ("GET", "/v1/batches/{a}", None, "officer"),
    ("GET", "/v1/batches/{a}/results", None, "officer"),
    ("PATCH", "/v1/admin/taxpayers/{a}", {"status": "active"}, "admin"),
    ("POST", "/v1/admin/taxpayers/{a}/keys", {"kid": "k", "public_key": "x"}, "admin"),
    ("POST", "/v1/admin/taxpayers/{a}/keys/{b}/revoke", None, "admin"),
    ("POST", "/v1/admin/taxpayers/0100233488/keys/{b}/revoke", None, "admin"),
    ("POST", "/v1/admin/clients/{a}/revoke", None, "admin"),
]
_CODES = {code.value for code in ErrorCode}


@settings(max_examples=300, deadline=None)
@given(
    route=st.sampled_from(_ROUTES),
    a=st.text(max_size=300),
    b=st.text(max_size=300),
    query=st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=50), max_size=3),
)
def test_no_parameter_text_gives_a_server_error(
    service_url: str,
    as_admin: dict[str, str],
    as_officer: dict[str, str],
    route: tuple[str, str, dict[str, Any] | None, str],
    a: str,
    b: str,
    query: dict[str, str],
) -> None:
    method, template, body, role = route
    path = template.format(a=quote(a, safe=""), b=quote(b, safe=""))
    headers = as_admin if role == "admin" else as_officer

    with httpx.Client(base_url=service_url, timeout=30) as client:
        response = client.request(method, path, params=query, json=body, headers=headers)

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        errors = orjson.loads(response.content)["errors"]
        assert errors
        for error in errors:
            assert error["code"] in _CODES
            assert isinstance(error["message"], str)
            assert set(error) <= {"code", "message", "field"}
            assert error.get("field", "/").startswith("/")


async def test_a_batch_from_a_taxpayer_not_active_is_refused(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    seller = await make_seller(settings)
    pool = await create_pool(settings)
    try:
        await admin.set_status(Registry(pool), seller.tax_code, "suspended")
    finally:
        await pool.close()
    body = orjson.dumps(seller.submission(number=3)) + b"\n"
    headers = {**seller.headers, "Content-Type": "application/x-ndjson"}

    response = await http.post("/v1/batches", content=body, headers=headers)
    for _ in range(50):  # the suspension reaches the service's registry cache by notification
        if response.status_code != 202:
            break
        await asyncio.sleep(0.1)
        response = await http.post("/v1/batches", content=body, headers=headers)

    assert response.status_code == 403, response.text
    assert _codes(response) == [("TAXPAYER_NOT_ACTIVE", None)]
