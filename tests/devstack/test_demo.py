"""The demo registry: plausible tax codes, and `demo seed` against this session's database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import orjson

from devstack.demo import random_tax_code
from devstack.settings import CHECKOUT_ROOT
from einvoice.config import Settings
from einvoice.invoice.taxcode import tax_code_error
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry


def test_random_tax_codes_are_valid() -> None:
    assert [tax_code_error(random_tax_code()) for _ in range(200)] == [None] * 200


def _seed(env: dict[str, str], folder: Path, *extra: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "devstack", "demo", "seed", "--taxpayers", "2", "--dir", str(folder),
         *extra],
        env=env,
        cwd=CHECKOUT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )  # fmt: skip
    return result.stdout


async def _registered(settings: Settings, tax_codes: list[str]) -> list[bool]:
    pool = await create_pool(settings)
    try:
        registry = Registry(pool)
        return [await registry.taxpayer(code) is not None for code in tax_codes]
    finally:
        await pool.close()


def test_seed_registers_sellers_once_with_if_missing(
    settings: Settings, session_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "demo"

    first = _seed(session_env, folder)
    again = _seed(session_env, folder, "--if-missing")

    assert first.startswith(f"2 demo sellers in {folder / 'registry.json'} (admin key: ")
    assert again.strip() == f"the demo in {folder / 'registry.json'} is registered already"
    manifest = orjson.loads((folder / "registry.json").read_bytes())
    tax_codes = [seller["tax_code"] for seller in manifest["sellers"]]
    assert len(tax_codes) == 2
    assert asyncio.run(_registered(settings, tax_codes)) == [True, True]
    assert all(Path(seller["private_key"]).is_file() for seller in manifest["sellers"])
