"""One catalogue of error codes (einvoice/error_codes.py): every raise site uses it, and
docs/errors.md lists exactly its codes with their status and meaning."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from einvoice import errors
from einvoice.config import PROJECT_ROOT
from einvoice.error_codes import ErrorCode

PRODUCT = ["einvoice", "api", "signing", "storage", "lookup", "ingest", "loadtest"]
_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \|(.*)\|$")


def _documented() -> dict[str, tuple[int, str]]:
    """code -> (status, meaning) from docs/errors.md's tables; a table without a status column
    takes the status from its section heading, e.g. "## Business rules (422)"."""
    found: dict[str, tuple[int, str]] = {}
    section_status = 0
    for line in (PROJECT_ROOT / "docs" / "errors.md").read_text().splitlines():
        if line.startswith("## "):
            heading = re.search(r"\((\d{3})\)", line)
            section_status = int(heading.group(1)) if heading else 0
        row = _ROW.match(line)
        if row is None:
            continue
        cells = [cell.strip() for cell in row.group(2).split("|")]
        status, meaning = (
            (int(cells[0]), cells[1]) if len(cells) == 2 else (section_status, cells[0])
        )
        assert row.group(1) not in found, f"{row.group(1)} is documented twice"
        found[row.group(1)] = (status, meaning)
    return found


def test_a_code_is_its_own_name() -> None:
    assert [code.name for code in ErrorCode if code.value != code.name] == []


def test_the_docs_list_every_code_with_its_status_and_meaning() -> None:
    documented = _documented()

    assert {code.value: (code.status, code.meaning) for code in ErrorCode} == documented


def _code_literals(path: Path) -> list[str]:
    names = {code.value for code in ErrorCode}
    return [
        f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {node.value}"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Constant) and node.value in names
    ]


@pytest.mark.parametrize("package", PRODUCT)
def test_raise_sites_name_their_codes_from_the_catalogue(package: str) -> None:
    """Not as string literals, which the catalogue and its docs would not see."""
    catalogue = PROJECT_ROOT / "einvoice" / "error_codes.py"
    found = [
        literal
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
        if path != catalogue
        for literal in _code_literals(path)
    ]

    assert found == []


def test_each_error_class_answers_with_the_status_of_its_code() -> None:
    classes: list[type[errors.ServiceError]] = [
        errors.ServiceError,
        *_subclasses(errors.ServiceError),
    ]

    assert [cls.__name__ for cls in classes if cls.code.status != cls.status] == []


def _subclasses(cls: type[errors.ServiceError]) -> list[type[errors.ServiceError]]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]
