"""Fixtures of the client commands' tests: a seller registered in this session's registry with a
demo registry file naming it (the shape `scripts/stack demo seed` writes), and a real worker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import serialization

from einvoice.config import Settings
from tests.api.test_invoices import Seller, make_seller
from tests.signing.keys import private_key
from tests.support import ServerProcess


@dataclass(frozen=True)
class DemoRegistry:
    path: Path
    seller: Seller
    api_key: str


@pytest.fixture
async def demo_registry(settings: Settings, tmp_path: Path) -> DemoRegistry:
    seller = await make_seller(settings, "EdDSA")
    key_file = tmp_path / "keys" / f"{seller.kid}.pem"
    key_file.parent.mkdir()
    key_file.write_bytes(
        private_key(seller.alg).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(key_file, 0o600)
    api_key = seller.headers["Authorization"].removeprefix("Bearer ")
    # devstack/demo.py's manifest: the admins and officers are not needed here.
    manifest = {
        "admins": [],
        "officers": [],
        "sellers": [
            {
                "tax_code": seller.tax_code,
                "kid": seller.kid,
                "algorithm": seller.alg,
                "private_key": str(key_file),
                "client_id": str(uuid.uuid4()),  # not read by the client
                "api_key": api_key,
            }
        ],
    }
    path = tmp_path / "registry.json"
    path.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return DemoRegistry(path, seller, api_key)


@pytest.fixture
def worker(session_env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(["worker"], session_env, tmp_path / "worker.log") as process:
        yield process
