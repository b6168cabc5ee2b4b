"""docs/configuration.md names every setting, so the table cannot silently fall behind."""

from __future__ import annotations

from einvoice.config import PROJECT_ROOT, Settings


def test_every_setting_is_documented() -> None:
    table = (PROJECT_ROOT / "docs" / "configuration.md").read_text()

    missing = [
        f"EINVOICE_{name.upper()}"
        for name in Settings.model_fields
        if f"`EINVOICE_{name.upper()}`" not in table
    ]

    assert missing == []
