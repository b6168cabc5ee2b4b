"""What the code imports is what pyproject.toml declares, and what the lock files pin.

Every third-party module the product imports (at its top level: `cassandra.cluster` is
`cassandra`) comes from a distribution in `dependencies`; the load tests' own ones may come from
the `loadtest` extra; tests, scripts and the development stack may also use `dev`. Import names
are mapped to distributions by what is installed (`importlib.metadata.packages_distributions`),
so `cassandra` is cassandra-driver and `jwt` would be PyJWT. The compiled core (`einvoice_core`,
core/) is the one exception: optional, installed on its own, and imported by the product only
through einvoice/accelerator.py (and for types).

The lock files (requirements.lock, requirements-dev.lock; scripts/lock writes them) must pin each
declared distribution at its declared version, with hashes, and the runtime lock must be the dev
lock's runtime part, so the image runs the versions the tests ran.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterable
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from einvoice.config import PROJECT_ROOT

PRODUCT = ["einvoice", "api", "signing", "storage", "lookup", "ingest"]
LOADTEST = ["loadtest"]
DEVELOPMENT = ["tests", "scripts", "devstack"]
FIRST_PARTY = {*PRODUCT, *LOADTEST, *DEVELOPMENT}
CORE = "einvoice_core"  # the optional compiled core (core/), not a declared dependency
# scripts/ modules, which scripts import from their own folder (run as `python scripts/x.py`)
# and a few tests from there too.
SCRIPTS = {path.stem for path in (PROJECT_ROOT / "scripts").glob("*.py")}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def _names(requirements: Iterable[str]) -> dict[str, str]:
    """Distribution name (normalized) -> its exact pin, of `name==version` requirements."""
    pins = {}
    for requirement in requirements:
        found = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)", requirement)
        assert found, f"pyproject.toml pins exactly (name==version): {requirement!r}"
        pins[_normalized(found[1])] = found[2]
    return pins


@cache
def _project() -> dict[str, dict[str, str]]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return {
        "dependencies": _names(project["dependencies"]),
        "loadtest": _names(extras["loadtest"]),
        "dev": _names(extras["dev"]),
    }


def _imports(path: Path) -> set[tuple[str, bool]]:
    """The top-level modules `path` imports (absolute imports), each with whether the import is
    for type checking only (under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If)
        and isinstance(block.test, ast.Name)
        and block.test.id == "TYPE_CHECKING"
        for statement in block.body
        for node in ast.walk(statement)
    }
    found: set[tuple[str, bool]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {(name.split(".")[0], id(node) in typing_only) for name in names}
    return found


def _third_party(packages: list[str]) -> dict[str, list[str]]:
    """Third-party top-level module -> the files of `packages` that import it at run time."""
    found: dict[str, list[str]] = {}
    for package in packages:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            for module, typing_only in _imports(path):
                if (
                    typing_only
                    or module in sys.stdlib_module_names
                    or module in FIRST_PARTY
                    or (package in DEVELOPMENT and module in SCRIPTS)
                ):
                    continue
                found.setdefault(module, []).append(str(path.relative_to(PROJECT_ROOT)))
    return found


def _undeclared(packages: list[str], groups: list[str]) -> list[str]:
    declared = {name for group in groups for name in _project()[group]}
    distributions = packages_distributions()
    problems = []
    for module, files in sorted(_third_party(packages).items()):
        if module == CORE:
            continue  # checked below: only through the accelerator
        providers = {_normalized(name) for name in distributions.get(module, [])}
        if not providers:
            problems.append(f"{module} (imported by {files[0]}) is not installed at all")
        elif not providers & declared:
            problems.append(
                f"{module} (imported by {files[0]}) comes from {sorted(providers)}, "
                f"which is not in {' or '.join(groups)}"
            )
    return problems


def test_the_product_imports_only_its_declared_dependencies() -> None:
    assert _undeclared(PRODUCT, ["dependencies"]) == []


def test_the_load_tests_import_only_dependencies_and_their_extra() -> None:
    assert _undeclared(LOADTEST, ["dependencies", "loadtest"]) == []


def test_tests_and_scripts_import_only_declared_dependencies() -> None:
    assert _undeclared(DEVELOPMENT, ["dependencies", "loadtest", "dev"]) == []


def test_the_dev_extra_holds_the_loadtest_extra() -> None:
    project = _project()
    assert project["loadtest"].items() <= project["dev"].items()


def test_the_product_imports_the_compiled_core_only_through_the_accelerator() -> None:
    """Anywhere else an `import einvoice_core` would break installs without the core (for
    types, under TYPE_CHECKING, it is never run)."""
    at_run_time = [
        str(path.relative_to(PROJECT_ROOT))
        for package in [*PRODUCT, *LOADTEST]
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
        if (CORE, False) in _imports(path)
    ]
    assert at_run_time == []
    accelerator = (PROJECT_ROOT / "einvoice" / "accelerator.py").read_text()
    assert f'importlib.import_module("{CORE}")' in accelerator


# -- the lock files ----------------------------------------------------------------------------

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


@cache
def _lock(name: str) -> dict[str, set[str]]:
    """A lock file's pins: distribution (normalized) -> its versions (more than one where they
    differ by Python version: numpy's newest needs 3.12); every pin must carry hashes."""
    text = (PROJECT_ROOT / name).read_text()
    pins: dict[str, set[str]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        found = _PIN.match(block.split("\n", 1)[0])
        if found is None:
            continue
        assert "--hash=sha256:" in block, f"{name}: {found[1]} has no hash"
        pins.setdefault(_normalized(found[1]), set()).add(found[2])
    return pins


@pytest.mark.parametrize(
    ("lock", "groups"),
    [
        ("requirements.lock", ["dependencies"]),
        ("requirements-dev.lock", ["dependencies", "loadtest", "dev"]),
    ],
)
def test_a_lock_pins_every_declared_distribution_at_its_version(
    lock: str, groups: list[str]
) -> None:
    pins = _lock(lock)
    wrong = {
        name: (version, sorted(pins.get(name, set())))
        for group in groups
        for name, version in _project()[group].items()
        if pins.get(name) != {version}
    }
    assert wrong == {}, f"{lock} is out of date with pyproject.toml: run scripts/lock"


def test_the_runtime_lock_is_the_dev_locks_runtime_part() -> None:
    """The same versions in the image as in the tests: every runtime pin is in the dev lock."""
    development = _lock("requirements-dev.lock")
    differing = {
        name: (sorted(versions), sorted(development.get(name, set())))
        for name, versions in _lock("requirements.lock").items()
        if not versions <= development.get(name, set())
    }
    assert differing == {}
    assert "einvoice-core" not in development  # installed from core/, not from a registry
