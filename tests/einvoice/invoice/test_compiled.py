"""The compiled core (core/, `einvoice_core`) against the reference implementation in Python.

The compiled core may only ever say "certainly valid" for an invoice the reference accepts, and
must then give the same canonical bytes, hash and token claims. These tests hold it to that on
valid invoices of many shapes, on every kind of single change to them, on signatures and keys of
every kind, and on the clock's edges; and they check that it does take the common cases, or the
service would quietly lose its speed.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import einvoice_core
import orjson
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwcrypto import jwk, jwt

from einvoice.invoice.authenticate import (
    Authenticated,
    Authority,
    Rejected,
    authenticate,
    authenticate_reference,
)
from einvoice.invoice.samples import sample_invoice
from signing.authority import AuthorityKeyRing, generate_private_key_pem
from signing.canonical import canonical_invoice_bytes, invoice_hash
from signing.seller import SellerKey, sign_invoice
from tests.einvoice.invoice.strategies import invoices, totals_from_lines
from tests.einvoice.invoice.support import problems
from tests.signing.keys import ALGORITHMS, ISSUER, private_key, seller_key
from tests.support import compiled_core

pytestmark = compiled_core

NOW = dt.datetime(2025, 6, 20, 3, 0, tzinfo=dt.UTC)
AUTHORITY = Authority(
    AuthorityKeyRing.from_pems({"cqt-1": generate_private_key_pem()}, "cqt-1"), "00", ISSUER
)
SIGNER = AUTHORITY.keyring.token_signer


def compiled(
    invoice: Any, signature: Any, *keys: SellerKey, now: dt.datetime = NOW
) -> tuple[bytes, str, str, bool, str] | None:
    registered = {key.kid: key for key in keys}
    assert SIGNER is not None
    return einvoice_core.authenticate(
        invoice, signature, lambda _: registered, SIGNER, ISSUER, "00", now.timestamp()
    )


def reference(
    invoice: Any, signature: Any, *keys: SellerKey, now: dt.datetime = NOW
) -> Authenticated | Rejected:
    registered = {key.kid: key for key in keys}
    return authenticate_reference(
        invoice, signature, keys_for_seller=lambda _: registered, authority=AUTHORITY, now=now
    )


def certainly_valid(invoice: Any, now: dt.datetime = NOW) -> bytes | None:
    return einvoice_core.check_invoice(invoice, now.timestamp())


def signed(invoice: Any, alg: str = "ES256") -> tuple[str, SellerKey]:
    key = seller_key(alg)
    return sign_invoice(invoice, private_key(alg), kid=key.kid, alg=alg), key


def assert_agrees(invoice: Any, now: dt.datetime = NOW) -> bytes | None:
    """The compiled rules accept only what the reference accepts, with the same bytes."""
    canonical = certainly_valid(invoice, now)
    if canonical is not None:
        assert problems(invoice, now) == []
        assert canonical == canonical_invoice_bytes(invoice)
    return canonical


# -- valid invoices of many shapes: same answer, and the compiled path takes them ----------------


def _shapes() -> Iterator[tuple[str, dict[str, Any]]]:
    yield "sample", sample_invoice()
    yield "one line", sample_invoice(lines=1)
    yield "many lines", sample_invoice(lines=300)
    yield "retail buyer", sample_invoice(buyer_tax_code=None)
    yield "K symbol", dict(sample_invoice(), symbol="K25TAA")
    branch = sample_invoice(seller_tax_code="0100233488-001")
    yield "branch seller", branch
    nulls = sample_invoice()
    nulls["seller"]["email"] = None
    nulls["lines"][0]["unit"] = None
    nulls["original"] = None
    nulls["totals"]["discount_amount"] = None
    yield "explicit nulls", nulls
    note = sample_invoice(lines=2)
    note["lines"].append({"no": 3, "nature": 4, "name": "Hàng tặng kèm", "quantity": None})
    yield "note line", note
    yield "foreign currency", _foreign()
    yield "trade discount", _trade_discount()
    yield "adjusting", _adjusting()
    yield "sales invoice", _sales()
    yield "other rate", _khac()
    yield "discount amount", _discount_amount()
    yield "zero rates", _zero_rates()


def _totals(invoice: dict[str, Any], by_rate: list[tuple[str, str, str]], unrated: int = 0) -> None:
    before = sum(int(taxable) for _, taxable, _ in by_rate) + unrated
    tax = sum(int(tax) for _, _, tax in by_rate)
    invoice["totals"] = {
        "by_rate": [{"vat_rate": r, "taxable_amount": a, "tax_amount": t} for r, a, t in by_rate],
        "amount_before_tax": str(before),
        "tax_amount": str(tax),
        "total_payable": str(before + tax),
    }


def _foreign() -> dict[str, Any]:
    invoice = sample_invoice(lines=1)
    invoice.update(currency="USD", exchange_rate="25400.5")
    line = invoice["lines"][0]
    line.update(quantity="3", unit_price="12.345", amount="37.04", vat_rate="10%")
    invoice["totals"] = {
        "by_rate": [{"vat_rate": "10%", "taxable_amount": "37.04", "tax_amount": "3.70"}],
        "amount_before_tax": "37.04",
        "tax_amount": "3.70",
        "total_payable": "40.74",
    }
    return invoice


def _trade_discount() -> dict[str, Any]:
    invoice = sample_invoice(lines=1)
    invoice["lines"][0].update(quantity="2", unit_price="100000", amount="200000", vat_rate="10%")
    invoice["lines"].append(
        {
            "no": 2,
            "nature": 3,
            "name": "Chiết khấu thương mại",
            "amount": "20000",
            "vat_rate": "10%",
        }
    )
    _totals(invoice, [("10%", "180000", "18000")])
    invoice["totals"]["discount_amount"] = "20000"
    return invoice


def _adjusting() -> dict[str, Any]:
    invoice = sample_invoice(lines=1, number=7)
    invoice["lines"][0].update(quantity="-2", unit_price="100000", amount="-200000", vat_rate="8%")
    _totals(invoice, [("8%", "-200000", "-16000")])
    invoice["original"] = {
        "relation": "adjusts",
        "template": "1",
        "symbol": "C25TAA",
        "number": 3,
        "issued_date": "2025-06-01",
    }
    return invoice


def _sales() -> dict[str, Any]:
    invoice = sample_invoice(lines=2, symbol_series="TAB")
    invoice["template"] = "2"
    for line in invoice["lines"]:
        del line["vat_rate"]
    unrated = sum(int(line["amount"]) for line in invoice["lines"])
    _totals(invoice, [], unrated)
    del invoice["totals"]["by_rate"]
    return invoice


def _khac() -> dict[str, Any]:
    invoice = sample_invoice(lines=1)
    invoice["lines"][0].update(quantity="1", unit_price="1000000", amount="1000000")
    invoice["lines"][0]["vat_rate"] = "KHAC:5.25"
    _totals(invoice, [("KHAC:5.25", "1000000", "52500")])
    return invoice


def _zero_rates() -> dict[str, Any]:
    invoice = sample_invoice(lines=2)
    invoice["lines"][0]["vat_rate"] = "0%"
    invoice["lines"][1]["vat_rate"] = "KCT"
    first, second = (line["amount"] for line in invoice["lines"])
    _totals(invoice, [("0%", first, "0"), ("KCT", second, "0")])
    return invoice


def _discount_amount() -> dict[str, Any]:
    invoice = sample_invoice(lines=1)
    invoice["lines"][0].update(
        quantity="4", unit_price="250000", discount_amount="50000", amount="950000", vat_rate="5%"
    )
    _totals(invoice, [("5%", "950000", "47500")])
    return invoice


SHAPES = dict(_shapes())


@pytest.mark.parametrize("shape", SHAPES)
def test_valid_invoices_of_every_common_shape_take_the_compiled_path(shape: str) -> None:
    invoice = SHAPES[shape]
    assert problems(invoice) == [], "the shape itself must be valid"

    assert assert_agrees(invoice) is not None


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_every_seller_algorithm_gives_the_reference_answer(alg: str) -> None:
    invoice = sample_invoice()
    signature, key = signed(invoice, alg)

    fast = compiled(invoice, signature, key)
    slow = reference(invoice, signature, key)

    assert fast is not None
    assert isinstance(slow, Authenticated)
    canonical, digest, code, coded, token = fast
    assert (canonical, digest, coded) == (slow.canonical, slow.invoice_hash, slow.coded)
    assert canonical == rfc8785.dumps(invoice)
    assert digest == invoice_hash(canonical)
    assert re.fullmatch(r"00[0-9A-F]{32}", code)
    key_set = jwk.JWKSet.from_json(orjson.dumps(AUTHORITY.keyring.jwks()).decode())
    fast_claims = orjson.loads(jwt.JWT(jwt=token, key=key_set, expected_type="JWS").claims)
    slow_claims = orjson.loads(jwt.JWT(jwt=slow.token, key=key_set, expected_type="JWS").claims)
    assert fast_claims == {**slow_claims, "code": code}
    # The same header bytes as the reference's tokens, and the same claim order.
    assert token.split(".")[0] == slow.token.split(".")[0]
    assert list(fast_claims) == list(slow_claims)


def test_authenticate_takes_the_compiled_path_and_answers_like_the_reference() -> None:
    invoice = sample_invoice()
    signature, key = signed(invoice, "RS256")

    outcome = authenticate(
        invoice, signature, keys_for_seller=lambda _: {key.kid: key}, authority=AUTHORITY, now=NOW
    )

    assert isinstance(outcome, Authenticated)
    assert outcome.invoice == invoice
    assert AUTHORITY.keyring.verify_token(outcome.token) is not None


@pytest.mark.parametrize("alg", ["EdDSA", "PS256"])
def test_an_authority_key_the_compiled_core_does_not_sign_with_takes_the_reference_path(
    alg: str,
) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = private_key(alg).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    authority = Authority(AuthorityKeyRing.from_pems({"cqt-x": pem}, "cqt-x"), "01", ISSUER)
    invoice = sample_invoice()
    signature, key = signed(invoice)

    outcome = authenticate(
        invoice, signature, keys_for_seller=lambda _: {key.kid: key}, authority=authority, now=NOW
    )

    assert authority.keyring.token_signer is None
    assert isinstance(outcome, Authenticated)
    assert authority.keyring.verify_token(outcome.token) is not None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invoices())
def test_generated_valid_invoices_agree(invoice: dict[str, Any]) -> None:
    canonical = assert_agrees(invoice)
    # Lines with a discount *rate* are left to the reference rules; everything else is taken.
    if not any("discount_rate" in line for line in invoice["lines"]):
        assert canonical is not None


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=60))
def test_any_text_is_written_as_rfc_8785_writes_it(name: str, address: str) -> None:
    invoice = sample_invoice(lines=1)
    invoice["seller"]["name"] = name
    invoice["lines"][0]["name"] = address
    try:
        expected = rfc8785.dumps(invoice)
    except (UnicodeEncodeError, rfc8785.CanonicalizationError):  # pragma: no cover
        expected = None  # a lone surrogate: not JSON text
    canonical = certainly_valid(invoice)
    if expected is None or len(name) > 400:
        assert canonical is None
    else:
        assert canonical == expected


# -- every single change to a valid invoice: never accepted unless the reference accepts ---------

TRICKY_VALUES: list[Any] = [
    None,
    "",
    " ",
    "0",
    "1",
    "2",
    "6",
    "8",
    "9",
    "-1",
    "-0",
    "1.5",
    "0.000001",
    "1.0000001",
    "1e3",
    "١٢٣",
    "1\n",
    "99999999999999999999",
    "9999999999999999",
    1,
    0,
    -1,
    1.5,
    True,
    False,
    10**20,
    2**63,
    "10%",
    "5%",
    "KCT",
    "KHAC:5.25",
    "KHAC:5.2",
    "7%",
    "C25TAA",
    "K25TAA",
    "C24TAA",
    "C25NAA",
    "2025-06-15",
    "2025-06-21",
    "2025-02-30",
    "0000-01-01",
    "0100233488",
    "0100233487",
    "0100233488-000",
    "VND",
    "USD",
    "vnd",
    "x" * 501,
    "Đ" * 401,
    {},
    [],
    [{}],
    {"a": 1},
]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


OPTIONAL_MEMBERS = {
    (): ["currency", "exchange_rate", "payment_method", "buyer", "original", "unknown"],
    ("seller",): ["phone", "email", "bank_account", "unknown"],
    ("buyer",): ["tax_code", "citizen_id", "unknown"],
    ("lines", 0): ["code", "unit", "discount_rate", "discount_amount", "vat_rate", "unknown"],
    ("lines", -1): ["quantity", "unit_price", "amount", "vat_rate", "unknown"],
    ("totals",): ["by_rate", "discount_amount", "total_in_words", "unknown"],
}


def _mutations(invoice: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(description, changed invoice) for every path x value, every deletion, every addition."""
    for path in list(_paths(invoice))[1:]:
        for value in TRICKY_VALUES:
            yield f"{path} = {value!r:.30}", _set(invoice, path, value)
        yield f"del {path}", _delete(invoice, path)
    for parent, names in OPTIONAL_MEMBERS.items():
        for name in names:
            for value in (None, "1", "0100233488", "123456789012", 1, "KHAC:5.00"):
                with contextlib.suppress(KeyError, IndexError, TypeError):
                    yield f"{parent}+{name}={value!r}", _set(invoice, (*parent, name), value)


def _set(invoice: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(invoice)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = copy.deepcopy(value)
    return changed


def _delete(invoice: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    changed = copy.deepcopy(invoice)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return changed


@pytest.mark.parametrize(
    "shape", ["one line", "foreign currency", "adjusting", "trade discount", "note line"]
)
def test_no_single_change_is_accepted_unless_the_reference_accepts_it(shape: str) -> None:
    base = SHAPES[shape]
    checked = accepted = 0
    for description, changed in _mutations(base):
        try:
            assert_agrees(changed)
        except AssertionError as error:
            raise AssertionError(f"{shape}: {description}") from error
        checked += 1
        accepted += certainly_valid(changed) is not None
    assert checked > 500
    assert accepted > 0  # some changes keep the invoice valid (a null optional member, say)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(SHAPES)),
    st.data(),
)
def test_random_changes_agree(shape: str, data: st.DataObject) -> None:
    invoice = copy.deepcopy(SHAPES[shape])
    paths = list(_paths(invoice))[1:]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        value = data.draw(
            st.one_of(
                st.sampled_from(TRICKY_VALUES),
                st.integers(-(10**9), 10**9).map(str),
                st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
                st.text(max_size=12),
            )
        )
        try:
            invoice = _set(invoice, path, value)
        except (KeyError, IndexError, TypeError):
            continue
    assert_agrees(invoice)


# -- arithmetic at the edges of its tolerances: exactly the reference's answer -------------------


def _rebalance(invoice: dict[str, Any], tax_delta: Decimal = Decimal(0)) -> dict[str, Any]:
    """The totals recomputed from the lines as written (tax rounded half up, plus `tax_delta`
    units on each rate), so only the lines and `tax_delta` decide whether the invoice is valid."""
    unit = Decimal(1) if invoice.get("currency", "VND") == "VND" else Decimal("0.01")
    invoice["totals"] = totals_from_lines(invoice["lines"], unit, tax_delta)
    return invoice


HALF_UNITS = st.integers(-6, 6).map(lambda n: Decimal(n) / 2)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        ["one line", "sample", "foreign currency", "discount amount", "other rate", "zero rates"]
    ),
    st.data(),
    HALF_UNITS,
    st.sampled_from(["1.5", "3", "0.25", "7.333"]),
)
def test_amounts_near_their_tolerances_get_exactly_the_reference_answer(
    shape: str, data: st.DataObject, amount_delta: Decimal, quantity: str
) -> None:
    invoice = copy.deepcopy(SHAPES[shape])
    unit = Decimal(1) if invoice.get("currency", "VND") == "VND" else Decimal("0.01")
    index = data.draw(st.integers(0, len(invoice["lines"]) - 1))
    line = invoice["lines"][index]
    line["quantity"] = quantity
    gross = Decimal(quantity) * Decimal(line["unit_price"])
    expected = gross - Decimal(line.get("discount_amount") or 0)
    line["amount"] = str((expected + amount_delta * unit).quantize(unit, ROUND_HALF_UP))
    _rebalance(invoice, tax_delta=data.draw(HALF_UNITS))

    canonical = assert_agrees(invoice)

    assert (canonical is not None) == (problems(invoice) == [])


def _shift_totals(totals: dict[str, Any], before: int = 0, tax: int = 0) -> None:
    totals["amount_before_tax"] = str(Decimal(totals["amount_before_tax"]) + before)
    totals["tax_amount"] = str(Decimal(totals["tax_amount"]) + tax)
    totals["total_payable"] = str(Decimal(totals["total_payable"]) + before + tax)


def _duplicated_summary(invoice: dict[str, Any]) -> None:
    summary = invoice["totals"]["by_rate"][0]
    invoice["totals"]["by_rate"].append(dict(summary))
    _shift_totals(invoice["totals"], int(summary["taxable_amount"]), int(summary["tax_amount"]))


def _missing_summary(invoice: dict[str, Any]) -> None:
    summary = invoice["totals"]["by_rate"].pop()
    _shift_totals(invoice["totals"], -int(summary["taxable_amount"]), -int(summary["tax_amount"]))


def _sales_line_with_rate(invoice: dict[str, Any]) -> None:
    line = invoice["lines"][0]
    line["vat_rate"] = "0%"
    invoice["totals"]["by_rate"] = [
        {"vat_rate": "0%", "taxable_amount": line["amount"], "tax_amount": "0"}
    ]


def _vat_line_without_rate(invoice: dict[str, Any], template: str = "1") -> None:
    invoice["template"] = template
    line = {"no": 2, "nature": 1, "name": "Phí", "quantity": "1", "unit_price": "1000"}
    invoice["lines"].append({**line, "amount": "1000"})
    _shift_totals(invoice["totals"], before=1000)


def _self_reference(invoice: dict[str, Any]) -> None:
    invoice["original"]["number"] = invoice["number"]


COORDINATED = {
    "duplicated rate summary": ("sample", _duplicated_summary, "RATE_SUMMARY_DUPLICATE"),
    "missing rate summary": ("sample", _missing_summary, "RATE_SUMMARY_MISSING"),
    "unexpected rate summary": (
        "sample",
        lambda i: i["totals"]["by_rate"].append(
            {"vat_rate": "5%", "taxable_amount": "0", "tax_amount": "0"}
        ),
        "RATE_SUMMARY_UNEXPECTED",
    ),
    "total tax": ("sample", lambda i: _shift_totals(i["totals"], tax=1), "TOTAL_TAX_MISMATCH"),
    "total before tax": (
        "sample",
        lambda i: _shift_totals(i["totals"], before=1),
        "TOTAL_BEFORE_TAX_MISMATCH",
    ),
    "discount total": (
        "trade discount",
        lambda i: i["totals"].update(discount_amount="10000"),
        "TOTAL_DISCOUNT_MISMATCH",
    ),
    "self reference": ("adjusting", _self_reference, "RELATED_SELF_REFERENCE"),
    "sales line with a rate": ("sales invoice", _sales_line_with_rate, "VAT_RATE_NOT_ALLOWED"),
    "VAT line without a rate": ("one line", _vat_line_without_rate, "LINE_FIELD_REQUIRED"),
    "VAT line without a rate, template 8": (
        "one line",
        lambda i: _vat_line_without_rate(i, template="8"),
        "LINE_FIELD_REQUIRED",
    ),
}


@pytest.mark.parametrize("case", COORDINATED)
def test_coordinated_changes_that_break_one_rule_are_refused_by_both(case: str) -> None:
    shape, change, code = COORDINATED[case]
    invoice = copy.deepcopy(SHAPES[shape])
    change(invoice)

    assert code in [found for found, _ in problems(invoice)]
    assert certainly_valid(invoice) is None


# -- signatures, keys and the clock ----------------------------------------------------------------


def _tamper_header(signature: str, header: dict[str, Any]) -> str:
    import base64

    encoded = base64.urlsafe_b64encode(orjson.dumps(header)).rstrip(b"=").decode()
    return encoded + signature[signature.index(".") :]


@pytest.mark.parametrize(
    "case",
    [
        "unknown kid",
        "key of another seller",
        "algorithm mismatch",
        "RSA key registered for the other RSA algorithm",
        "revoked",
        "revoked in the future",
        "not yet valid",
        "expired before issue",
        "valid to the issue day",
        "tampered invoice",
        "padded base64",
        "extra header member",
        "typ header member",
        "attached payload",
        "not a string",
        "four parts",
        "critical header",
        "unencoded payload",
    ],
)
def test_signature_cases_agree_with_the_reference(case: str) -> None:
    invoice = sample_invoice()
    signature, key = signed(invoice, "ES256")
    keys = [key]
    day = dt.datetime(2025, 6, 15, tzinfo=dt.UTC)
    if case == "unknown kid":
        keys = [seller_key("ES256", kid="other")]
    elif case == "key of another seller":
        keys = [seller_key("ES256", tax_code="0314409058")]
    elif case == "algorithm mismatch":
        keys = [seller_key("ES256", algorithm="RS256")]
    elif case == "RSA key registered for the other RSA algorithm":
        signature, key = signed(invoice, "RS256")
        keys = [seller_key("RS256", algorithm="PS256")]
    elif case == "revoked":
        keys = [seller_key("ES256", revoked_at=NOW - dt.timedelta(seconds=1))]
    elif case == "revoked in the future":
        keys = [seller_key("ES256", revoked_at=NOW + dt.timedelta(days=1))]
    elif case == "not yet valid":
        keys = [seller_key("ES256", valid_from=day + dt.timedelta(days=1))]
    elif case == "expired before issue":
        keys = [seller_key("ES256", valid_to=day - dt.timedelta(days=1))]
    elif case == "valid to the issue day":
        keys = [seller_key("ES256", valid_to=day)]
    elif case == "tampered invoice":
        invoice["buyer"]["name"] = "Someone else"
    elif case == "padded base64":
        head, _, tail = signature.partition("..")
        signature = head + "=" * (-len(head) % 4) + ".." + tail
    elif case == "extra header member":
        signature = _tamper_header(signature, {"alg": "ES256", "kid": key.kid, "x5u": "a"})
    elif case == "typ header member":
        signature = _tamper_header(signature, {"alg": "ES256", "kid": key.kid, "typ": "JOSE"})
    elif case == "attached payload":
        head, _, tail = signature.partition("..")
        signature = head + ".e30." + tail
    elif case == "not a string":
        signature = None  # type: ignore[assignment]
    elif case == "four parts":
        signature += ".x"
    elif case == "critical header":
        signature = _tamper_header(signature, {"alg": "ES256", "kid": key.kid, "crit": ["b64"]})
    elif case == "unencoded payload":
        signature = _tamper_header(signature, {"alg": "ES256", "kid": key.kid, "b64": False})

    fast = compiled(invoice, signature, *keys)
    slow = reference(invoice, signature, *keys)

    if fast is not None:
        assert isinstance(slow, Authenticated), case
        assert fast[1] == slow.invoice_hash
    if case in ("revoked in the future", "valid to the issue day"):
        assert fast is not None  # the common valid cases are taken


def test_a_weak_rsa_key_is_never_taken_by_the_compiled_path() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on purpose
    key = seller_key("RS256", public_key=weak.public_key())
    invoice = sample_invoice()
    signature = sign_invoice(invoice, weak, kid=key.kid, alg="RS256")

    assert key.compiled is None
    assert compiled(invoice, signature, key) is None
    outcome = reference(invoice, signature, key)
    assert isinstance(outcome, Rejected)
    assert [e.code for e in outcome.errors] == ["SIGNATURE_KEY_TOO_WEAK"]


_MIDNIGHT_VN = dt.datetime(2025, 6, 20, 17, 0, tzinfo=dt.UTC)  # 2025-06-21 00:00 in Vietnam


@pytest.mark.parametrize(
    "offset",
    [
        dt.timedelta(minutes=-5, seconds=-1),
        dt.timedelta(minutes=-5, microseconds=-1),
        dt.timedelta(minutes=-5),
        dt.timedelta(minutes=-5, microseconds=1),
        dt.timedelta(minutes=-4),
        dt.timedelta(hours=-12),
        dt.timedelta(hours=12),
    ],
)
# The oldest issue date accepted moves from 2024-12-22 to 2024-12-23 at the same edge.
@pytest.mark.parametrize(
    "issued", ["2024-12-21", "2024-12-22", "2024-12-23", "2025-06-20", "2025-06-21", "2025-06-22"]
)
def test_the_clock_edges_agree(offset: dt.timedelta, issued: str) -> None:
    invoice = sample_invoice(issued=dt.date.fromisoformat(issued))
    now = _MIDNIGHT_VN + offset

    canonical = assert_agrees(invoice, now)

    near_the_edge = abs(offset + dt.timedelta(minutes=5)) < dt.timedelta(seconds=1)
    if problems(invoice, now) == [] and not near_the_edge:
        assert canonical is not None
