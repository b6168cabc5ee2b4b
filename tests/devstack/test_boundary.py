"""devstack is not shipped with the product (that the product never imports it: tests/test_layers.py)."""

from __future__ import annotations

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
