"""The example clients (examples/<language>/, docs/integration.md), each in its own language with
that language's JOSE and JCS libraries, against the real service: each first reproduces the test
vectors (examples/vectors/) byte for byte, then signs a fresh invoice, submits it and verifies the
authority's token against the service's published keys.

Each client is run as `examples/<language>/run` (it fetches its dependencies, cached, and runs),
with the service and a registered seller in its environment:

    EINVOICE_URL               the running service
    EINVOICE_API_KEY           a business client of the seller
    EINVOICE_SELLER_TAX_CODE   the seller (registered with the vectors' Ed25519 public key)
    EINVOICE_INVOICE_NUMBER    a number this seller has not used
    EINVOICE_VECTORS           the vectors folder

and prints, as its last line of output, one JSON object: {"vectors": "ok", "code", "invoice_hash",
"status": 201}. Node.js with npm, Go and a JDK with Maven are on every machine of this project
(CI included); their downloads are cached (docs/integration.md, "The example clients").
"""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import httpx
import orjson
import pytest

from einvoice.config import PROJECT_ROOT, Settings
from einvoice.registry import admin
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.einvoice.registry.test_registry_storage import fresh_tax_code

EXAMPLES = PROJECT_ROOT / "examples"
VECTORS = EXAMPLES / "vectors"
LANGUAGES = ("javascript", "go", "java")
# A first run fetches and builds (Maven and Go the longest); later runs use the caches.
RUN_TIMEOUT_S = 900
_NUMBERS = itertools.count(1)


async def _registered_seller(settings: Settings) -> tuple[str, str]:
    """A fresh taxpayer with the vectors' Ed25519 key, and a business API key for it."""
    public = orjson.loads((VECTORS / "seller-ed25519.jwk.json").read_bytes())
    pool = await create_pool(settings)
    try:
        registry = Registry(pool)
        tax_code = fresh_tax_code()
        await admin.add_taxpayer(registry, tax_code, "Công ty TNHH Ví Dụ Tích Hợp")
        await admin.add_key(registry, tax_code, public["kid"], public, algorithm=public["alg"])
        issued = await admin.add_client(registry, "business", tax_code)
    finally:
        await pool.close()
    return tax_code, issued.api_key


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_example_client_reproduces_the_vectors_and_submits(
    language: str, settings: Settings, service_url: str, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    run = EXAMPLES / language / "run"
    assert os.access(run, os.X_OK), f"{run} is missing or not executable"
    tax_code, api_key = await _registered_seller(settings)
    env = {
        **os.environ,
        "EINVOICE_URL": service_url,
        "EINVOICE_API_KEY": api_key,
        "EINVOICE_SELLER_TAX_CODE": tax_code,
        "EINVOICE_INVOICE_NUMBER": str(next(_NUMBERS)),
        "EINVOICE_VECTORS": str(VECTORS),
    }

    finished = subprocess.run(  # noqa: ASYNC221  (one client at a time; the test waits for it)
        [str(run)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )

    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output[-6000:]
    summary = orjson.loads(finished.stdout.strip().splitlines()[-1])
    assert summary["vectors"] == "ok"
    assert summary["status"] == 201
    found = await http.get(
        f"/v1/invoices/{summary['code']}", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert found.status_code == 200, found.text
    assert found.json()["invoice_hash"] == summary["invoice_hash"]
    assert found.json()["invoice"]["seller"]["tax_code"] == tax_code
