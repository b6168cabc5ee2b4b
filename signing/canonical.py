"""The canonical bytes of an invoice (RFC 8785, JSON Canonicalization Scheme) and its hash.

RFC 8785 serialises with keys sorted by UTF-16 code units, no whitespace, strings escaped as
ECMAScript's JSON.stringify does, and numbers in ECMAScript's shortest form. For an invoice that
has passed structural validation the values are only strings, integers of at most 8 digits, null,
lists and objects whose keys are the format's ASCII names: there, orjson with sorted keys writes
exactly the RFC 8785 bytes (ASCII keys sort the same in UTF-8 and UTF-16; orjson escapes strings as
JSON.stringify does; small integers have one form). The tests check this against the reference
implementation (the `rfc8785` package) on RFC 8785's vectors and on generated invoices.

Why not call the reference implementation here: it is pure Python and costs about 10x more per
invoice than orjson on the hot path (scripts/bench_authenticate.py prints both).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def canonical_invoice_bytes(validated_invoice_json: Any) -> bytes:
    """RFC 8785 bytes of an invoice object that has passed structural validation (see above)."""
    return orjson.dumps(validated_invoice_json, option=orjson.OPT_SORT_KEYS)


def invoice_hash(canonical: bytes) -> str:
    """SHA-256 of the canonical bytes, lower-case hex: the `invoice_hash` of the API."""
    return hashlib.sha256(canonical).hexdigest()
