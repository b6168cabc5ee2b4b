"""devstack may import the product; the product never imports devstack, nor ships it."""

from __future__ import annotations

import ast
import fnmatch
import tomllib

from devstack.settings import CHECKOUT_ROOT


def _product_packages() -> list[str]:
    pyproject = tomllib.loads((CHECKOUT_ROOT / "pyproject.toml").read_text())
    patterns: list[str] = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return [
        path.name
        for path in sorted(CHECKOUT_ROOT.iterdir())
        if (path / "__init__.py").is_file()
        and any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)
    ]


def test_devstack_is_not_a_product_package() -> None:
    packages = _product_packages()

    assert "einvoice" in packages
    assert "devstack" not in packages


def test_the_product_never_imports_devstack() -> None:
    offenders = []
    for package in _product_packages():
        for path in sorted((CHECKOUT_ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                else:
                    continue
                if any(name.split(".")[0] == "devstack" for name in names):
                    offenders.append(f"{path.relative_to(CHECKOUT_ROOT)}:{node.lineno}")

    assert offenders == []
