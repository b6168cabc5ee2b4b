"""The stack's own settings keep the documented EINVOICE_* names and stay out of the product's."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.settings import CHECKOUT_ROOT, StackSettings
from einvoice.config import Settings


def test_the_stack_reads_its_documented_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EINVOICE_STACK_DIR", str(tmp_path))
    monkeypatch.setenv("EINVOICE_CASSANDRA_HEAP", "512M")
    monkeypatch.setenv("EINVOICE_CASSANDRA_COMMITLOG_SYNC", "periodic")
    monkeypatch.setenv("EINVOICE_STACK_START_TIMEOUT_S", "5")

    stack = StackSettings()

    assert stack.stack_dir == tmp_path
    assert stack.cassandra_heap == "512M"
    assert stack.cassandra_commitlog_sync == "periodic"
    assert stack.stack_start_timeout_s == 5.0


def test_the_default_stack_folder_is_the_checkouts() -> None:
    assert StackSettings().stack_dir == CHECKOUT_ROOT / ".stack"
    assert (CHECKOUT_ROOT / "devstack" / "settings.py").is_file()


def test_the_product_knows_nothing_of_the_stack() -> None:
    assert not set(StackSettings.model_fields) & set(Settings.model_fields)
