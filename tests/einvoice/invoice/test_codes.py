"""Every error code the invoice core can produce is in the catalogue and in docs/errors.md."""

from __future__ import annotations

import re
from pathlib import Path

from einvoice.config import PROJECT_ROOT
from einvoice.invoice.codes import CATALOGUE

_SOURCES = ["einvoice/invoice", "signing"]


def _codes_in_source() -> set[str]:
    found: set[str] = set()
    for folder in _SOURCES:
        for path in Path(PROJECT_ROOT, folder).glob("*.py"):
            if path.name == "codes.py":
                continue
            found |= set(re.findall(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"', path.read_text()))
    return found


def test_every_code_used_is_catalogued() -> None:
    assert _codes_in_source() - set(CATALOGUE) == set()


def test_every_catalogued_code_is_documented() -> None:
    document = (PROJECT_ROOT / "docs" / "errors.md").read_text()

    assert [code for code in CATALOGUE if f"`{code}`" not in document] == []
