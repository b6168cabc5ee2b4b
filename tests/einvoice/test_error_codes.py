"""One catalogue of error codes (einvoice/error_codes.py): every raise site uses it, and
docs/errors.md lists exactly its codes with their status, meaning and what the caller should do.

How every code a caller can receive is covered: error objects reach callers only as
`ErrorDetail.as_json()` (HTTP answers, a batch line's `errors`, a notice item's `errors`), whose
`code` is typed `ErrorCode`, so mypy refuses anything else. These tests add that no product code
builds an error object by hand or gives a code as a string, that every `ErrorCode.<NAME>` the
product names is catalogued and documented, and that the catalogue and the page are equal.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from einvoice import errors
from einvoice.config import PROJECT_ROOT
from einvoice.error_codes import ErrorCode

PRODUCT = ["einvoice", "api", "signing", "storage", "lookup", "ingest", "loadtest"]
ERRORS_PAGE = PROJECT_ROOT / "docs" / "errors.md"
CATALOGUE = PROJECT_ROOT / "einvoice" / "error_codes.py"

# A code table's columns, by its header row; `status` may instead be in the section's heading,
# e.g. "## Business rules (422)".
_COLUMNS = {"code", "status", "meaning", "what to do"}
_CODE_CELL = re.compile(r"`([A-Z][A-Z0-9_]*)`")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_SEPARATOR_CELL = re.compile(r":?-{3,}:?")


@dataclass(frozen=True)
class Documented:
    status: int
    meaning: str
    what_to_do: str


def _cells(line: str) -> list[str]:
    """A table row's cells, `\\|` inside a cell read as `|`."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in _UNESCAPED_PIPE.split(inner)]


def _documented() -> dict[str, Documented]:
    """code -> its row in docs/errors.md. A code table's header row names its columns (`code`,
    `status`, `meaning`, `what to do`); without a `status` column, the section heading gives it."""
    found: dict[str, Documented] = {}
    section_status: int | None = None
    columns: list[str] | None = None  # of the code table being read
    for number, line in enumerate(ERRORS_PAGE.read_text().splitlines(), 1):
        where = f"docs/errors.md:{number}"
        if line.startswith("## "):
            heading = re.search(r"\((\d{3})\)", line)
            section_status = int(heading.group(1)) if heading else None
        if not line.startswith("|"):
            columns = None
            continue
        cells = _cells(line)
        if cells[0] == "code":
            assert set(cells) <= _COLUMNS, f"{where}: columns {cells}, expected some of {_COLUMNS}"
            assert {"code", "meaning", "what to do"} <= set(cells), f"{where}: columns {cells}"
            columns = cells
            continue
        if all(_SEPARATOR_CELL.fullmatch(cell) for cell in cells):
            continue
        code = _CODE_CELL.fullmatch(cells[0])
        if columns is None:
            assert code is None, f"{where}: a code row outside a code table (header `| code | ...`)"
            continue
        assert code is not None, f"{where}: a code table's row names no code: {cells[0]!r}"
        assert len(cells) == len(columns), f"{where}: {len(cells)} cells under {columns}"
        row = dict(zip(columns, cells, strict=True))
        status = int(row["status"]) if "status" in row else section_status
        assert status is not None, f"{where}: no status column, and none in the section heading"
        assert code.group(1) not in found, f"{where}: {code.group(1)} is documented twice"
        found[code.group(1)] = Documented(status, row["meaning"], row["what to do"])
    return found


def test_a_code_is_its_own_name() -> None:
    assert [code.name for code in ErrorCode if code.value != code.name] == []


def test_the_docs_list_every_code_with_its_status_and_meaning() -> None:
    documented = {code: (row.status, row.meaning) for code, row in _documented().items()}

    assert {code.value: (code.status, code.meaning) for code in ErrorCode} == documented


def test_every_code_row_says_what_to_do() -> None:
    """Guidance for the caller, in words: not empty, not a dash."""
    silent = [
        code for code, row in _documented().items() if not re.search(r"[A-Za-z]", row.what_to_do)
    ]

    assert silent == []


def _product_modules() -> list[Path]:
    return [path for package in PRODUCT for path in sorted((PROJECT_ROOT / package).rglob("*.py"))]


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(PROJECT_ROOT)}:{getattr(node, 'lineno', 0)}"


def _named_codes(path: Path) -> list[tuple[str, str]]:
    """(NAME, where) of every `ErrorCode.NAME` in the module, however ErrorCode was imported
    (`ErrorCode`, an alias of it, or `error_codes.ErrorCode`)."""
    tree = ast.parse(path.read_text(), str(path))
    names = {"ErrorCode"} | {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name == "ErrorCode" and alias.asname
    }

    def is_catalogue(node: ast.expr) -> bool:
        return (isinstance(node, ast.Name) and node.id in names) or (
            isinstance(node, ast.Attribute) and node.attr == "ErrorCode"
        )

    return [
        (node.attr, _where(path, node))
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and is_catalogue(node.value)
        and re.fullmatch(r"[A-Z][A-Z0-9_]*", node.attr)
    ]


def test_every_code_the_source_names_is_catalogued_and_documented() -> None:
    """Every `ErrorCode.<NAME>` in the product packages: a member of the catalogue (an unknown
    one is a bug mypy also reports) and a row of docs/errors.md."""
    named: dict[str, list[str]] = defaultdict(list)
    for path in _product_modules():
        for name, where in _named_codes(path):
            named[name].append(where)
    documented = _documented()

    assert len(named) > 50, f"found only {sorted(named)}: does the walk still see the raise sites?"
    not_catalogued = {name: at for name, at in named.items() if name not in ErrorCode.__members__}
    assert not_catalogued == {}, "ErrorCode has no such member (mypy would refuse these too)"
    undocumented = {name: at for name, at in named.items() if name not in documented}
    assert undocumented == {}, "the service can answer these; docs/errors.md does not list them"


# The only places that make an error object ({"code", "message", "field"?}): ErrorDetail.as_json,
# and the OpenAPI document's examples; both take the code from ErrorCode.
_ERROR_OBJECT_MAKERS = {"einvoice/errors.py", "api/openapi.py"}


def _keys(node: ast.AST) -> set[object]:
    """The member names of a dict display or a `dict(...)` call; nothing for other nodes."""
    if isinstance(node, ast.Dict):
        return {key.value for key in node.keys if isinstance(key, ast.Constant)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return {keyword.arg for keyword in node.keywords if keyword.arg is not None}
    return set()


def _is_text(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _hand_built(path: Path) -> list[str]:
    """Where the module makes an error object or a code by hand: a dict (display or `dict(...)`)
    with both `code` and `message`, outside the makers; or a code given as a string literal
    (`{"code": "..."}`, `x["code"] = "..."`, `code="..."`, `ErrorDetail("...", ...)`), which neither
    mypy nor the catalogue would check. (A batch result's or notice item's own `code` is the
    invoice's authority code, never a literal.)"""
    relative = str(path.relative_to(PROJECT_ROOT))
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if relative not in _ERROR_OBJECT_MAKERS and {"code", "message"} <= _keys(node):
            found.append(f"{_where(path, node)} an error object built by hand")
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code" and _is_text(value):
                    found.append(f"{_where(path, node)} a code as a string")
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.slice, ast.Constant)
                    and target.slice.value == "code"
                    and _is_text(node.value)
                ):
                    found.append(f"{_where(path, node)} a code as a string")
        if isinstance(node, ast.Call):
            if any(kw.arg == "code" and _is_text(kw.value) for kw in node.keywords):
                found.append(f"{_where(path, node)} a code as a string")
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name == "ErrorDetail" and node.args and _is_text(node.args[0]):
                found.append(f"{_where(path, node)} a code as a string")
    return found


def test_error_objects_come_from_the_catalogue() -> None:
    """Batch line results (storage/cassandra/batches.py, einvoice/submission.py) and notice items
    (einvoice/notices.py) carry ErrorDetail.as_json(); nothing else builds an error object."""
    found = [problem for path in _product_modules() for problem in _hand_built(path)]

    assert found == []


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
    found = [
        literal
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
        if path != CATALOGUE
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
