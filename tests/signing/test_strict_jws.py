"""The seller's JWS read strictly on both sides: base64url in its one canonical form, a protected
header without repeated members, sizes bounded. Each case is signed over exactly the bytes sent,
so only the reading can refuse it: the reference must answer SIGNATURE_MALFORMED and the compiled
core must step aside (tests/einvoice/invoice/test_compiled.py holds the rest of the two together).
Where the service does not use the core (EINVOICE_PURE=1, einvoice/accelerator.py), the reference's
answers are checked alone.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from einvoice.accelerator import core
from einvoice.invoice.authenticate import Authenticated, Rejected
from einvoice.invoice.samples import sample_invoice
from signing import jws
from signing.canonical import canonical_invoice_bytes
from signing.seller import SellerKey
from tests.einvoice.invoice.test_compiled import compiled, reference
from tests.signing.keys import private_key, seller_key

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_JUNK = "= \n\t\r+/*.%~\x00é"
KEY = seller_key("ES256")
_ES = '{"alg":"ES256","kid":"seller-es256"}'


def canonical_b64url(text: str) -> bool:
    """The oracle: RFC 7515's base64url, written independently of the code under test."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        return False
    if not text:
        return True
    unused = {0: 0, 2: 4, 3: 2}[len(text) % 4]  # bits of the last character that carry nothing
    return _ALPHABET.index(text[-1]) & ((1 << unused) - 1) == 0


@settings(max_examples=500)
@given(st.binary(max_size=80))
def test_what_is_encoded_decodes_back(data: bytes) -> None:
    encoded = jws.b64url_encode(data)

    assert canonical_b64url(encoded.decode())
    assert jws.b64url_decode(encoded) == data
    assert jws.b64url_decode(encoded.decode()) == data


@settings(max_examples=1000)
@given(st.text(alphabet=_ALPHABET + _JUNK, max_size=16))
def test_only_canonical_base64url_decodes(text: str) -> None:
    if canonical_b64url(text):
        padded = text + "=" * (-len(text) % 4)
        assert jws.b64url_decode(text) == base64.urlsafe_b64decode(padded)
    else:
        with pytest.raises(jws.JwsError):
            jws.b64url_decode(text)


def _invoice() -> dict[str, Any]:
    return sample_invoice()


def _sign(invoice: Any, header_b64: bytes, key: SellerKey = KEY) -> str:
    """A detached JWS whose signature is valid over `header_b64` exactly as given."""
    signing_input = header_b64 + b"." + jws.b64url_encode(canonical_invoice_bytes(invoice))
    signature = jws.sign(key.algorithm, private_key(key.algorithm), signing_input)
    return (header_b64 + b".." + jws.b64url_encode(signature)).decode("latin-1")


def _header(text: str) -> bytes:
    return jws.b64url_encode(text.encode())


def _compiled(invoice: Any, signature: str, key: SellerKey = KEY) -> Any:
    """The compiled core's answer; None (it steps aside) where the service does not use it."""
    return None if core is None else compiled(invoice, signature, key)


def _taken(invoice: Any, signature: str, key: SellerKey = KEY) -> bool:
    """Whether the compiled core takes it, where the service uses the core."""
    return core is None or compiled(invoice, signature, key) is not None


def _outcome(invoice: Any, signature: str, key: SellerKey = KEY) -> tuple[Any, list[str]]:
    slow = reference(invoice, signature, key)
    codes = [error.code.value for error in slow.errors] if isinstance(slow, Rejected) else []
    return _compiled(invoice, signature, key), codes


def test_a_plain_signature_is_taken_by_both() -> None:
    invoice = _invoice()
    signature = _sign(invoice, _header(_ES))

    assert _taken(invoice, signature, KEY)
    assert isinstance(reference(invoice, signature, KEY), Authenticated)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_junk_in_the_header_encoding_is_refused_by_both(data: st.DataObject) -> None:
    invoice = _invoice()
    clean = _header(_ES).decode()
    at = data.draw(st.integers(0, len(clean)))
    junk = data.draw(st.text(alphabet=_JUNK.replace(".", ""), min_size=1, max_size=3))
    bent = (clean[:at] + junk + clean[at:]).encode("utf-8")

    fast, codes = _outcome(invoice, _sign(invoice, bent))

    assert fast is None
    assert codes == ["SIGNATURE_MALFORMED"]


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_junk_in_the_signature_encoding_is_refused_by_both(data: st.DataObject) -> None:
    invoice = _invoice()
    header_b64, _, signature_b64 = _sign(invoice, _header(_ES)).partition("..")
    at = data.draw(st.integers(0, len(signature_b64)))
    junk = data.draw(st.text(alphabet=_JUNK.replace(".", ""), min_size=1, max_size=3))
    bent = f"{header_b64}..{signature_b64[:at]}{junk}{signature_b64[at:]}"

    fast, codes = _outcome(invoice, bent)

    assert fast is None
    assert codes == ["SIGNATURE_MALFORMED"]


def _set_unused_bits(encoded: str) -> str:
    """The same bytes with the last character's unused bits set: a lenient decoder reads it."""
    unused = {2: 4, 3: 2}[len(encoded) % 4]
    last = _ALPHABET.index(encoded[-1]) | ((1 << unused) - 1)
    return encoded[:-1] + _ALPHABET[last]


def test_non_canonical_trailing_bits_are_refused_by_both() -> None:
    invoice = _invoice()
    typed = '{"alg":"ES256","kid":"seller-es256","typ":"JOSE"}'  # 49 bytes: 4 unused bits
    header = _header(typed).decode()
    bent_header = _sign(invoice, _set_unused_bits(header).encode())
    head, _, signature_b64 = _sign(invoice, _header(_ES)).partition("..")
    bent_signature = f"{head}..{_set_unused_bits(signature_b64)}"  # ES256: 64 bytes, 4 bits

    assert base64.urlsafe_b64decode(_set_unused_bits(header) + "==") == typed.encode()
    for signature in (bent_header, bent_signature):
        assert _outcome(invoice, signature) == (None, ["SIGNATURE_MALFORMED"])


@pytest.mark.parametrize(
    "header",
    [
        '{"alg":"ES256","kid":"seller-es256","kid":"seller-es256"}',
        '{"alg":"ES256","kid":"other","kid":"seller-es256"}',
        '{"alg":"ES256","kid":"seller-es256","\\u006bid":"seller-es256"}',
        '{"alg":"RS256","alg":"ES256","kid":"seller-es256"}',
        '{"alg":"ES256","kid":"seller-es256","typ":"JOSE","typ":"JOSE"}',
    ],
)
def test_a_header_repeating_a_member_is_refused_by_both(header: str) -> None:
    invoice = _invoice()
    signature = _sign(invoice, _header(header))

    slow = reference(invoice, signature, KEY)

    assert _compiled(invoice, signature, KEY) is None
    assert isinstance(slow, Rejected)
    assert [(e.code, e.field) for e in slow.errors] == [("SIGNATURE_MALFORMED", "/signature")]
    assert "repeats the member" in slow.errors[0].message


def test_the_header_and_signature_sizes_are_bounded_on_both_sides() -> None:
    invoice = _invoice()
    frame = '{"alg":"ES256","kid":"seller-es256","typ":""}'
    largest = frame.replace('""', '"' + "x" * (jws.MAX_HEADER_BYTES - len(frame)) + '"')
    assert len(largest) == jws.MAX_HEADER_BYTES
    over = largest.replace('"x', '"xx')

    at_limit = _sign(invoice, _header(largest))
    assert _taken(invoice, at_limit, KEY)
    assert isinstance(reference(invoice, at_limit, KEY), Authenticated)
    assert _outcome(invoice, _sign(invoice, _header(over))) == (None, ["SIGNATURE_MALFORMED"])

    head = _header(_ES).decode()
    long_signature = jws.b64url_encode(b"\x01" * (jws.MAX_SIGNATURE_BYTES + 1)).decode()
    for signature in (f"{head}..{long_signature}", head + "." * 9000, "A" * 9000):
        assert _outcome(invoice, signature) == (None, ["SIGNATURE_MALFORMED"])


def test_a_signature_of_the_largest_size_is_still_read() -> None:
    # An RSA-16384 signature's size: read and checked (it does not verify: wrong key).
    head = _header(_ES).decode()
    largest = jws.b64url_encode(b"\x01" * jws.MAX_SIGNATURE_BYTES).decode()

    assert _outcome(_invoice(), f"{head}..{largest}") == (None, ["SIGNATURE_INVALID"])


def test_a_non_ascii_signature_part_is_malformed_not_an_error() -> None:
    head = _header(_ES).decode()

    assert _outcome(_invoice(), f"{head}..AAé") == (None, ["SIGNATURE_MALFORMED"])


def test_ed25519_names_eddsa_on_both_sides() -> None:
    """RFC 9864's name: the compiled core takes it as the reference does."""
    invoice = _invoice()
    key = seller_key("EdDSA")
    signature = _sign(invoice, _header('{"alg":"Ed25519","kid":"seller-eddsa"}'), key)

    assert _taken(invoice, signature, key)
    assert isinstance(reference(invoice, signature, key), Authenticated)
    # Under an ES256 key's kid the name still means EdDSA: not the key's algorithm.
    es_named_eddsa = _sign(invoice, _header('{"alg":"Ed25519","kid":"seller-es256"}'), key)
    assert _outcome(invoice, es_named_eddsa) == (None, ["SIGNATURE_KEY_ALGORITHM_MISMATCH"])
