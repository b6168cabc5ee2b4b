"""The layers import only what they may: HTTP stays in `api/`, storage raises its own errors, the
product never depends on the development stack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from einvoice.config import PROJECT_ROOT

PRODUCT = ["einvoice", "api", "signing", "storage", "lookup", "ingest", "loadtest"]

# package -> modules it must not import (a prefix matches the module and its submodules).
FORBIDDEN = {
    "storage": ["api", "fastapi", "starlette", "einvoice.errors", "lookup", "ingest"],
    "signing": ["api", "fastapi", "starlette", "storage", "lookup", "ingest"],
    "lookup": ["api", "fastapi", "starlette"],
    "ingest": ["api", "fastapi", "starlette"],
    "einvoice": ["api", "fastapi", "starlette"],
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _violations(package: str, forbidden: list[str]) -> list[str]:
    return [
        f"{path.relative_to(PROJECT_ROOT)} imports {module}"
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
        for module in sorted(_imports(path))
        if any(module == banned or module.startswith(banned + ".") for banned in forbidden)
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_layer_imports_only_what_it_may(package: str) -> None:
    assert _violations(package, FORBIDDEN[package]) == []


@pytest.mark.parametrize("package", PRODUCT)
def test_the_product_never_imports_the_development_stack(package: str) -> None:
    assert _violations(package, ["devstack"]) == []
