"""docs/configuration.md names every setting, so the tables cannot silently fall behind: the
product's in the main table, the local stack's (devstack, outside the product) in its own section."""

from __future__ import annotations

from pydantic_settings import BaseSettings

from devstack.settings import StackSettings
from einvoice.config import PROJECT_ROOT, Settings

_STACK_SECTION = "## Local stack (devstack)"


def _sections() -> tuple[str, str]:
    text = (PROJECT_ROOT / "docs" / "configuration.md").read_text()
    product, found, rest = text.partition(_STACK_SECTION)
    assert found, f"docs/configuration.md has no section '{_STACK_SECTION}'"
    return product, rest.split("\n## ", 1)[0]


def _variables(settings: type[BaseSettings]) -> list[str]:
    return [f"`EINVOICE_{name.upper()}`" for name in settings.model_fields]


def test_every_setting_is_documented() -> None:
    product, _ = _sections()

    assert [name for name in _variables(Settings) if name not in product] == []


def test_every_local_stack_setting_is_documented_in_its_own_section() -> None:
    product, stack = _sections()

    assert [name for name in _variables(StackSettings) if name not in stack] == []
    assert [name for name in _variables(StackSettings) if f"| {name} |" in product] == []
