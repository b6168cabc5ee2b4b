"""Strict JSON (signing/strict_json.py) and both scans for repeated member names, the compiled one
(core/src/ijson.rs) and the pure one (`strict_json.first_duplicate_pure`, what runs without the
core), against a reference in Python: the standard library's parser keeping every member
(`object_pairs_hook`), walked in document order, written here apart from either."""

from __future__ import annotations

import contextlib
import json
import random
from typing import Any

import einvoice_core
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from einvoice.invoice.samples import sample_invoice
from signing import strict_json

# Both scans answer alike: the service uses the compiled one where the core is there.
SCANS = [einvoice_core.first_duplicate_member, strict_json.first_duplicate_pure]


class _Pairs(list[tuple[str, Any]]):
    """An object as read, every member kept in order."""


def reference_first_duplicate(text: bytes) -> str | None:
    """The oracle: the pointer of the first repeated name in document order (pre-order: a name
    is read before its member's value), or None."""
    document = json.loads(text, object_pairs_hook=_Pairs)

    def walk(value: Any, pointer: str) -> str | None:
        if isinstance(value, _Pairs):
            seen: set[str] = set()
            for name, member in value:
                token = pointer + "/" + name.replace("~", "~0").replace("/", "~1")
                if name in seen:
                    return token
                seen.add(name)
                if (found := walk(member, token)) is not None:
                    return found
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if (found := walk(item, f"{pointer}/{index}")) is not None:
                    return found
        return None

    return walk(document, "")


# -- generated documents: objects as lists of members, so that names may repeat ---------------

_NAMES = st.one_of(
    st.sampled_from(["a", "b", "", "a/b", "~", "é", "😀", "\n", '"', "\\"]),
    st.text(max_size=6),
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
_TREES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(_NAMES, inner), max_size=5).map(_Pairs),
    ),
    max_leaves=30,
)


def _string(text: str, rng: random.Random) -> str:
    """A JSON string of `text`, each character written plainly or escaped at random."""
    out = ['"']
    for char in text:
        plain = json.dumps(char, ensure_ascii=False)[1:-1]
        code = ord(char)
        spellings = [plain]
        if code < 0x10000:
            spellings.append(f"\\u{code:04x}")
            spellings.append(f"\\u{code:04X}")
        else:
            high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
            spellings.append(f"\\u{high:04x}\\u{low:04x}")
        if char == "/":
            spellings.append("\\/")
        out.append(rng.choice(spellings))
    out.append('"')
    return "".join(out)


def _text(value: Any, rng: random.Random) -> str:
    space = rng.choice(["", " ", "\n\t", "\r\n  "])
    if isinstance(value, _Pairs):
        members = [f"{_string(name, rng)}{space}:{space}{_text(v, rng)}" for name, v in value]
        return "{" + space + ("," + space).join(members) + space + "}"
    if isinstance(value, list):
        return "[" + space + ("," + space).join(_text(v, rng) for v in value) + space + "]"
    if isinstance(value, str):
        return _string(value, rng)
    return json.dumps(value)


@settings(max_examples=600, deadline=None)
@given(_TREES, st.randoms(use_true_random=False))
def test_the_scan_finds_the_references_first_repeated_name(tree: Any, rng: random.Random) -> None:
    text = _text(tree, rng).encode()
    expected = reference_first_duplicate(text)

    assert [scan(text) for scan in SCANS] == [expected, expected]
    if expected is None:
        assert strict_json.loads(text) == orjson.loads(text)
    else:
        with pytest.raises(strict_json.DuplicateMember) as raised:
            strict_json.loads(text)
        assert raised.value.pointer == expected


@settings(max_examples=600, deadline=None)
@given(_TREES, st.randoms(use_true_random=False), st.data())
def test_broken_text_never_crashes_and_what_orjson_reads_agrees(
    tree: Any, rng: random.Random, data: st.DataObject
) -> None:
    text = bytearray(_text(tree, rng).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        edit = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = data.draw(st.sampled_from(b'{}[],:"\\ 0-1eE.+tfnu\x00\x1f\x80\xff'))
        if edit == "insert":
            text[at:at] = bytes([byte])
        elif at < len(text):
            text[at : at + 1] = b"" if edit == "delete" else bytes([byte])
    broken = bytes(text)

    try:
        orjson.loads(broken)
    except orjson.JSONDecodeError:
        # Not JSON: the compiled scan may say anything (the service never asks it), but it
        # answers.
        with contextlib.suppress(ValueError):
            einvoice_core.first_duplicate_member(broken)
        return
    expected = reference_first_duplicate(broken)
    assert [scan(broken) for scan in SCANS] == [expected, expected]


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        (b'{"a":1,"b":2}', None),
        (b'{"a":1,"a":1}', "/a"),
        (b'{"a":1,"\\u0061":2}', "/a"),
        (b'{"\\u00E9":1,"\xc3\xa9":2}', "/\u00e9"),
        (b'{"\\ud83d\\ude00":1,"\xf0\x9f\x98\x80":2}', "/\U0001f600"),
        (b'{"a/b":{"~":[0,{"":1,"":2}]}}', "/a~1b/~0/1/"),
        (b'{"a":{"b":1,"c":2},"a":{"b":1,"b":2}}', "/a"),
        (b'[{"x":1},{"x":2},{"x":3,"x":4}]', "/2/x"),
    ],
)
def test_examples(text: bytes, pointer: str | None) -> None:
    assert reference_first_duplicate(text) == pointer
    assert [scan(text) for scan in SCANS] == [pointer, pointer]


def test_the_error_names_the_member() -> None:
    with pytest.raises(strict_json.DuplicateMember) as raised:
        strict_json.loads(b'{"x":{"a/b":1,"a\\/b":2}}')

    assert raised.value.pointer == "/x/a~1b"
    assert raised.value.name == "a/b"
    assert '"a/b"' in str(raised.value)  # quoted as JSON quotes it, not as a Python repr


def test_an_object_with_many_names_takes_linear_time_and_is_still_checked() -> None:
    names = [f'"n{index}":{index}' for index in range(100_000)]
    unique = ("{" + ",".join(names) + "}").encode()
    repeated = ("{" + ",".join(names) + ',"n99999":0}').encode()

    for scan in SCANS:
        assert scan(unique) is None
        assert scan(repeated) == "/n99999"


def test_nesting_is_bounded() -> None:
    deepest = b"[" * strict_json.MAX_DEPTH + b"]" * strict_json.MAX_DEPTH
    too_deep = b"[" * (strict_json.MAX_DEPTH + 1) + b"]" * (strict_json.MAX_DEPTH + 1)

    assert strict_json.loads(deepest) is not None
    with pytest.raises(strict_json.NotJson, match="nested deeper than 64 levels"):
        strict_json.loads(too_deep)
    # A submission is 5 levels deep: far from it.
    assert strict_json.loads(orjson.dumps({"invoice": sample_invoice()}))


def _nested(depth: int, inner: bytes = b"0") -> bytes:
    """`depth` containers, arrays and objects in turn, around `inner`."""
    text = inner
    for level in range(depth):
        text = b"[ " + text + b"]" if level % 2 else b'{"k" :' + text + b"}"
    return text


@pytest.mark.parametrize(
    "text",
    [
        _nested(64),
        _nested(65),
        _nested(200),
        _nested(1024),  # orjson's own limit, deeper than the standard library's parser goes
        b'{"a":1,"a":' + _nested(1000) + b"}",  # the repeat comes first
        b'{"a":' + _nested(1000) + b',"a":1}',  # too deep comes first
        b'[{"a":1,"b":' + _nested(70) + b',"a":2}]',
        b'["[[[[\\"", {"x":' + _nested(66, b'"]]}}"') + b',"x":1}]',  # brackets in strings
        b'[{"x":[' + b"[" * 61 + b"]" * 61 + b'], "x":0}]',  # 64 deep exactly, then a repeat
        b'[{"x":[' + b"[" * 62 + b"]" * 62 + b'], "x":0}]',  # 65 deep before the repeat
        b'{"a":1,"a":' + _nested(200) + b"}",
    ],
)
def test_both_scans_stop_at_the_same_place_when_nesting_goes_too_deep(text: bytes) -> None:
    orjson.loads(text)  # what the service reads before it scans
    answers: list[str | None] = []
    for scan in SCANS:
        try:
            answers.append(scan(text))
        except ValueError as error:
            answers.append(f"error: {error}")

    assert answers[0] == answers[1]


@pytest.mark.parametrize("text", [b"", b"{", b'{"a":1,}', b"[1] [2]", b"\xef\xbb\xbf{}", b"1e400"])
def test_what_orjson_refuses_is_not_json(text: bytes) -> None:
    with pytest.raises(strict_json.NotJson):
        strict_json.loads(text)
