"""A service process that has never seen a client, with PostgreSQL hung: a valid key gets 503
BACKEND_UNAVAILABLE (retry later), never 401 (a client told its key is wrong would stop), and the
same request succeeds once PostgreSQL answers again. Freezes a server of the shared stack, so it
runs last (marker `disruptive`)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import devstack as stack
from devstack.drill.faults import frozen
from einvoice.config import Settings
from einvoice.error_codes import ErrorCode
from tests.api.test_invoices import make_seller
from tests.support import running_service

pytestmark = pytest.mark.disruptive

UNKNOWN_CODE = "00ABCDEF0123456789ABCDEF0123456789"


async def test_a_cold_process_answers_503_not_401_while_postgresql_hangs(
    settings: Settings, base_settings: Settings, session_env: dict[str, str], tmp_path: Path
) -> None:
    (postgres,) = stack.servers(base_settings, ["postgres"])
    if postgres.process.running_pid() is None:
        pytest.skip("PostgreSQL is not run by the local stack; the test never stops others'")
    seller = await make_seller(settings)
    headers = seller.headers
    with running_service(session_env, tmp_path / "service.log") as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            with frozen(postgres):
                hung = await http.get(f"/v1/invoices/{UNKNOWN_CODE}", headers=headers)
            back = await http.get(f"/v1/invoices/{UNKNOWN_CODE}", headers=headers)
    assert hung.status_code == 503, hung.text
    assert hung.json()["errors"][0]["code"] == ErrorCode.BACKEND_UNAVAILABLE
    assert "retry-after" in hung.headers
    assert back.status_code == 404, back.text
