"""The NDJSON batch reader under arbitrary input: it returns the lines or raises one of the
service's errors with a catalogued code, never anything else (which would be a 500)."""

from __future__ import annotations

import os

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from api.batches import _checked_lines
from einvoice.error_codes import ErrorCode
from einvoice.errors import ServiceError

TAX_CODE = "0312345675"
EXAMPLES = int(os.environ.get("EINVOICE_FUZZ_EXAMPLES", "300"))

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["invoice", "signature", "seller", "tax_code", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
_line = st.one_of(
    st.binary(max_size=200),
    _json.map(orjson.dumps),
    # Near-valid lines: an object with an invoice, a seller and perhaps a repeated member.
    st.builds(
        lambda tax_code, extra: (
            b'{"invoice": {"seller": {"tax_code": ' + orjson.dumps(tax_code) + b"}" + extra + b"}}"
        ),
        st.sampled_from([TAX_CODE, "0100109106", ""]),
        st.sampled_from([b"", b', "seller": {}', b', "x": 1', b', "\\u0073eller": 2']),
    ),
)


def _check(body: bytes) -> None:
    refused: ServiceError | None = None
    try:
        lines = _checked_lines(body, TAX_CODE, max_lines=50)
    except ServiceError as error:
        refused = error
    if refused is not None:
        assert 400 <= refused.status < 500
        assert all(isinstance(detail.code, ErrorCode) for detail in refused.details)
        return
    assert lines
    assert all(line.strip() for line in lines)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(_line, max_size=8))
def test_any_batch_body_is_read_or_refused_with_a_code(lines: list[bytes]) -> None:
    _check(b"\n".join(lines))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_are_read_or_refused_with_a_code(body: bytes) -> None:
    _check(body)
