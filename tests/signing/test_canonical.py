"""Canonical bytes: RFC 8785 vectors, the reference implementation as oracle, and properties."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from einvoice.invoice.samples import sample_invoice
from signing.canonical import canonical_invoice_bytes, invoice_hash

# RFC 8785 section 3.2.2, with and without its numbers (the invoice format has no JSON numbers
# but small integers, so the fast path is held to the vector's strings and literals).
RFC_INPUT = (
    '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
    ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
    ' "literals": [null, true, false]}'
)
RFC_OUTPUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
).encode()
# RFC 8785 section 3.2.3: keys sort by UTF-16 code units (the emoji before U+FB33).
RFC_SORTING_INPUT = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}
RFC_SORTED_KEYS = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_the_reference_implementation_reproduces_the_rfc_vectors() -> None:
    assert rfc8785.dumps(json.loads(RFC_INPUT)) == RFC_OUTPUT
    sorted_keys = list(json.loads(rfc8785.dumps(RFC_SORTING_INPUT)))
    assert sorted_keys == RFC_SORTED_KEYS


def test_the_fast_path_matches_the_rfc_vector_on_strings_and_literals() -> None:
    value = json.loads(RFC_INPUT)
    del value["numbers"]
    expected = RFC_OUTPUT.replace(b'"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],', b"")

    assert canonical_invoice_bytes(value) == expected


def test_the_fast_path_matches_the_reference_on_sample_invoices() -> None:
    for lines in (1, 10, 200):
        invoice = sample_invoice(lines=lines)
        assert canonical_invoice_bytes(invoice) == rfc8785.dumps(invoice)


# Values an invoice may hold after structural validation: any text, small integers, null,
# and objects with the format's ASCII names.
_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
_texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
_leaves = st.none() | _texts | st.integers(min_value=-(10**8), max_value=10**8)
_values = st.recursive(
    _leaves,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_names, children, max_size=6),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_names, _values, max_size=8))
def test_the_fast_path_equals_the_reference_on_the_invoice_domain(value: dict[str, Any]) -> None:
    assert canonical_invoice_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_names, _values, max_size=8), st.randoms(use_true_random=False))
def test_key_order_and_whitespace_never_change_the_bytes(
    value: dict[str, Any], shuffler: random.Random
) -> None:
    reordered = _shuffled(value, shuffler)
    spaced = json.dumps(reordered, indent=3, ensure_ascii=shuffler.random() < 0.5)

    assert canonical_invoice_bytes(orjson.loads(spaced)) == canonical_invoice_bytes(value)


def test_the_hash_is_lower_case_hex_sha256() -> None:
    assert invoice_hash(b"") == ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def _shuffled(value: Any, shuffler: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        shuffler.shuffle(items)
        return {key: _shuffled(item, shuffler) for key, item in items}
    if isinstance(value, list):
        return [_shuffled(item, shuffler) for item in value]
    return value
