"""Whether the compiled core (`einvoice_core`, built from core/) is used: decided here, once, at
import.

The core is an optional accelerator with the same answers as the Python reference
(docs/signing.md, "The compiled core"). `pip install .` does not build it (it needs Rust);
`pip install ./core` does, and scripts/bootstrap and the Dockerfile install it. Where it is not
installed, or `EINVOICE_PURE=1` is set (the pure path's tests, comparisons), `core` is None and
every caller takes its pure path:

- einvoice/invoice/authenticate.py: no token signer, so the reference decides every invoice;
- einvoice/hdon/authenticate.py and einvoice/hdon/fields.py: the reference rules, the lxml reader;
- signing/strict_json.py: the duplicate-member scan in Python;
- signing/compiled.py: no compiled keys and no token signer, so `cryptography` verifies and signs
  (signing/jws.py, signing/authority.py, signing/xml_signature.py).

Callers bind what they use at import where they can, so the choice costs the hot path nothing
per call. A core that is installed but does not load (built for another Python, say) raises
here rather than falling back: the service would silently run at a third of its throughput.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

PURE_VARIABLE = "EINVOICE_PURE"
_PURE = {"1": True, "0": False, "": False}


def _load() -> ModuleType | None:
    setting = os.environ.get(PURE_VARIABLE, "").strip()
    if setting not in _PURE:
        raise ValueError(f"{PURE_VARIABLE} is 1 (the pure path) or 0 or unset, not {setting!r}")
    if _PURE[setting]:
        return None
    try:
        return importlib.import_module("einvoice_core")
    except ModuleNotFoundError as error:
        if error.name != "einvoice_core":
            raise
        return None


# Typed as a plain module: the stubs (core/einvoice_core.pyi) type the names callers import
# under TYPE_CHECKING, and mypy holds every use of `core` to a None check.
core: ModuleType | None = _load()


def implementation() -> str:
    """Which implementation runs, "compiled" or "pure": every process's start-up log says it
    (einvoice/runtime.py)."""
    return "pure" if core is None else "compiled"
