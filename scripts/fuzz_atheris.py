#!/usr/bin/env python
"""Coverage-guided fuzzing (atheris, libFuzzer) of the readers that take a caller's bytes.

    .venv/bin/python scripts/fuzz_atheris.py TARGET [libFuzzer options...]
    .venv/bin/python scripts/fuzz_atheris.py json -max_total_time=600 -seed=1

Targets (each says what must hold for every input; anything else is a crash libFuzzer reports
with the input that caused it):
- json:    strict JSON (signing/strict_json.py) returns a value or raises StrictJsonError, and
           agrees with orjson on every input it accepts;
- jws:     the compact JWS reader (signing/jws.py) returns its parts or raises JwsError;
- batch:   the NDJSON batch reader (api/batches.py) returns lines or raises a ServiceError whose
           code is in the catalogue;
- invoice: structure and rules (einvoice/invoice/) turn any JSON into an invoice or errors with
           catalogued codes, never an exception, and the rules never raise on what parsed;
- xml:     the national XML reader (einvoice/hdon/) returns an HDon or raises MalformedXml; what
           it returns maps to an invoice, the compiled reader of DLHDon reads what the reference
           reads (or leaves it to it), and its seller signature gets the same answer from the
           fast check and from libxmlsec1 (signing/xml_signature.py), never an exception.
Each starts from a seed corpus of valid inputs (a signed sample invoice, its JWS, a batch line),
so mutations begin past the first brace. CI runs each briefly (tests/fuzz/test_atheris.py); the
long runs and their figures are in docs/security.md.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

# Only our readers are instrumented: instrumenting everything they import (FastAPI, pydantic)
# takes half a minute per run and guides the fuzzer through code that is not ours.
with atheris.instrument_imports(include=["api", "einvoice", "signing"]):
    import orjson

    from api.batches import _checked_lines
    from einvoice.error_codes import ErrorCode
    from einvoice.errors import ServiceError
    from einvoice.hdon.fields import COMPILED_READER, invoice_of_reference
    from einvoice.hdon.parse import MalformedXml, parse_hdon
    from einvoice.invoice.rules import check_invoice
    from einvoice.invoice.structure import parse_invoice
    from signing import jws, strict_json
    from signing.xml_signature import SellerCertificate, sign_hdon, verify_seller_xml_signature

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree

from einvoice.hdon.fields import hdon_of
from einvoice.invoice.samples import SELLER_TAX_CODE, sample_invoice
from signing.seller import sign_invoice

_NOW = dt.datetime(2026, 6, 20, 3, 0, tzinfo=dt.UTC)
_CODES = {code.value for code in ErrorCode}


def _json(data: bytes) -> None:
    try:
        value = strict_json.loads(data)
    except strict_json.StrictJsonError:
        return
    if value != orjson.loads(data):
        raise AssertionError("strict JSON and orjson read the same text differently")


def _jws(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        header, _, _ = jws.split_compact(text)
        jws.decode_header(header)
    except jws.JwsError:
        return


def _batch(data: bytes) -> None:
    try:
        _checked_lines(data, SELLER_TAX_CODE, 100)
    except ServiceError as error:
        for detail in error.details:
            if detail.code not in _CODES:
                raise AssertionError(f"an uncatalogued code {detail.code!r}") from error


def _invoice(data: bytes) -> None:
    try:
        raw = strict_json.loads(data)
    except strict_json.StrictJsonError:
        return
    invoice, errors = parse_invoice(raw, prefix="/invoice")
    for detail in errors:
        if detail.code not in _CODES:
            raise AssertionError(f"an uncatalogued code {detail.code!r}")
    if invoice is not None:
        for detail in check_invoice(invoice, _NOW):
            if detail.code not in _CODES:
                raise AssertionError(f"an uncatalogued code {detail.code!r}")


def _seller_certificate() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SELLER_TAX_CODE)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(_NOW - dt.timedelta(days=30))
        .not_valid_after(_NOW + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, certificate


_XML_KEY, _XML_CERTIFICATE = _seller_certificate()
_REGISTERED = SellerCertificate(kid="seed", tax_code=SELLER_TAX_CODE, certificate=_XML_CERTIFICATE)
_CERTIFICATES = {_REGISTERED.fingerprint: _REGISTERED}


def _xml(data: bytes) -> None:
    try:
        document = parse_hdon(data)
    except MalformedXml as error:
        if error.details[0].code not in _CODES:
            raise AssertionError(f"an uncatalogued code {error.details[0].code!r}") from error
        return
    reference_reading = invoice_of_reference(document)
    compiled_reading = (
        None
        if COMPILED_READER is None
        else COMPILED_READER.read(document.data_canonical, document.namespace)
    )
    if not document.has_comments and compiled_reading not in (None, reference_reading):
        raise AssertionError(f"the readers differ: {compiled_reading} {reference_reading}")
    parse_invoice(reference_reading, prefix="/invoice")
    answers = [
        verify_seller_xml_signature(
            document,
            seller_tax_code=SELLER_TAX_CODE,
            issued=_NOW.date(),
            certificates=_CERTIFICATES,
            now=_NOW,
            reference=reference,
        )
        for reference in (False, True)
    ]
    if answers[0] != answers[1]:
        raise AssertionError(f"fast and reference checks differ: {answers}")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "json": _json,
    "jws": _jws,
    "batch": _batch,
    "invoice": _invoice,
    "xml": _xml,
}


def seeds() -> list[bytes]:
    invoice = sample_invoice(lines=3, issued=_NOW.date())
    key = ec.generate_private_key(ec.SECP256R1())
    signature = sign_invoice(invoice, key, kid="seed-1", alg="ES256")
    line = orjson.dumps({"invoice": invoice, "signature": signature})
    signed = [
        etree.tostring(
            sign_hdon(
                hdon_of(invoice, data_id="data"),
                _XML_KEY,
                _XML_CERTIFICATE,
                exclusive=c14n,
                signing_time=moment,
            )
        )
        for c14n in (True, False)
        for moment in (None, _NOW)
    ]
    return [
        *signed,
        orjson.dumps(invoice),
        line,
        line + b"\n" + line + b"\n",
        signature.encode(),
        b'{"a":[1,2.5,"x",null,true],"b":{"c":"\\u00e9"}}',
    ]


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in TARGETS:
        print(__doc__, file=sys.stderr)
        return 2
    target = TARGETS[argv[1]]
    options = argv[2:]
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{argv[1]}-") as corpus:
        for index, seed in enumerate(seeds()):
            Path(corpus, f"seed-{index}").write_bytes(seed)
        atheris.Setup([argv[0], *options, corpus], target)
        atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
