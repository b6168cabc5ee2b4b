"""Fixtures of the load tests' smoke runs: a demo registry seeded in this session's database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from einvoice.config import PROJECT_ROOT


@pytest.fixture(scope="session")
def demo_registry_file(
    session_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """`scripts/stack demo seed --taxpayers 3` into a folder of the session's: its registry.json."""
    folder = tmp_path_factory.mktemp("demo")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "devstack",
            "demo",
            "seed",
            "--taxpayers",
            "3",
            "--dir",
            str(folder),
        ],
        env=session_env,
        check=True,
        capture_output=True,
        cwd=PROJECT_ROOT,  # devstack runs from the checkout (it is not installed)
    )
    return folder / "registry.json"
