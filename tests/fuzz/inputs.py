"""What the fuzz sends besides what schemathesis generates: real identifiers in place of generated
ones, signed submissions, the caller's key and address.

Generated identifiers name nothing, and a generated invoice is neither the key's seller's nor
signed, so every request would stop at the first check (404, 403 SELLER_MISMATCH). The strategies
here keep the generated value or take a real one (TARGETS, filled by the test's fixture), about
half the time each. A submission is, three times in four, the seller's real invoice with one
generated value grafted in at its place, under a fresh number, signed with the seller's key: a
request that passes every check before the one the graft breaks, or is authenticated and stored.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import strategies as st
from schemathesis import Case as GenericCase
from schemathesis import SerializationContext

from signing.seller import sign_invoice
from tests.api.test_invoices import Seller
from tests.signing.keys import private_key

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Keys:
    """API keys by role, each an `internal` client."""

    admin: list[str]
    officer: list[str]
    business: list[str]


@dataclass
class Targets:
    """Real objects of the session's database, by the parameter or member names that carry them
    (`known`), the seller whose invoice submissions are grafted on, and the fuzz's keys."""

    known: dict[str, object] = field(default_factory=dict)
    seller: Seller | None = None
    invoice: dict[str, Any] | None = None
    keys: Keys | None = None

    def clear(self) -> None:
        self.known.clear()
        self.seller = self.invoice = self.keys = None


TARGETS = Targets()


def with_known(values: Any) -> st.SearchStrategy[Any]:
    """Each member of an object with a real counterpart keeps its generated value or takes the
    real one; anything else is sent as generated."""
    if not isinstance(values, dict):
        return st.just(values)
    known = TARGETS.known
    return st.fixed_dictionaries(
        {
            name: st.sampled_from([value, known[name]]) if name in known else st.just(value)
            for name, value in values.items()
        }
    )


def submissions(body: Any) -> st.SearchStrategy[Any]:
    """For a body {invoice, ...}: the body as generated, or the real invoice with one generated
    value grafted in, signed; for a list of them, each; anything else as `with_known`."""
    seller, real = TARGETS.seller, TARGETS.invoice
    if isinstance(body, list):  # a batch's lines
        return st.tuples(*(submissions(item) for item in body)).map(list)
    if not (isinstance(body, dict) and isinstance(body.get("invoice"), dict)):
        return with_known(body)
    if seller is None or real is None:
        return st.just(body)
    grafts = [(path, value) for path, value in _leaves(body["invoice"]) if _fits(real, path)]
    if not grafts:
        return st.just(body)

    def signed(graft: tuple[JsonPath, Any], number: int) -> dict[str, Any]:
        invoice = _grafted({**real, "number": number}, *graft)
        try:
            signature = sign_invoice(
                invoice, private_key(seller.alg), kid=seller.kid, alg=seller.alg
            )
        except orjson.JSONEncodeError:  # an integer beyond 64 bits: no canonical form
            signature = str(body.get("signature"))
        return {**body, "invoice": invoice, "signature": signature}

    # Three in four grafted, chosen by the body itself: a draw of Hypothesis's would lean towards
    # its simplest choice (measured: three in four were the body as it is), and the body as it
    # is stops at SELLER_MISMATCH.
    if _digest(repr(body)) % 4 == 0:
        return st.just(body)
    # Numbers from 10 up: the fixture's real invoices hold the first ones.
    return st.builds(signed, st.sampled_from(grafts), st.integers(10, 99_999_999))


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _leaves(value: Any, path: JsonPath = ()) -> list[tuple[JsonPath, Any]]:
    """Every value inside a JSON document with its path (of a list, the first three items)."""
    found: list[tuple[JsonPath, Any]] = [(path, value)] if path else []
    if isinstance(value, dict):
        for name, member in value.items():
            found += _leaves(member, (*path, name))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            found += _leaves(item, (*path, index))
    return found


def _container(document: Any, path: JsonPath) -> Any:
    """What holds the value at `path` in `document`, or None when the way there is missing."""
    node = document
    for step in path[:-1]:
        if isinstance(node, dict) and isinstance(step, str) and step in node:
            node = node[step]
            continue
        if isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
            continue
        return None
    return node


def _fits(document: Any, path: JsonPath) -> bool:
    node, last = _container(document, path), path[-1]
    if isinstance(node, list):
        return isinstance(last, int) and last < len(node)
    return isinstance(node, dict) and isinstance(last, str)


def _grafted(document: dict[str, Any], path: JsonPath, value: Any) -> dict[str, Any]:
    """A copy of `document` with `value` at `path` (which fits it)."""
    copy: dict[str, Any] = orjson.loads(orjson.dumps(document))
    _container(copy, path)[path[-1]] = value
    return copy


def ndjson(ctx: SerializationContext, value: Any) -> bytes | None:
    """A batch body (application/x-ndjson): text as it is, a list one JSON value a line."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    items = value if isinstance(value, list) else [value]
    return b"".join(_json_line(item) for item in items)


def _json_line(value: Any) -> bytes:
    try:
        return orjson.dumps(value) + b"\n"
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, which the standard library writes
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"


# -- who calls -------------------------------------------------------------------------------------


# Callers' addresses, one per request (10.0.0.0/8: 16 million of them).
ADDRESSES = (f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" for n in itertools.count(1))
MALFORMED_KEY = "Bearer einv_not-a-key"


def role_for(method: str, path: str) -> str | None:
    """The role an operation takes; None for the public ones."""
    if path.startswith("/v1/admin/"):
        return "admin"
    if method == "POST" and path in ("/v1/invoices", "/v1/batches"):
        return "business"
    if path.startswith(("/v1/invoices", "/v1/sellers/", "/v1/batches/")):
        return "reader"  # business or officer
    return None


def authorization(choice: int, pick: int, role: str | None, keys: Keys) -> str | None:
    """The Authorization header of a request. `choice` 0-12: a key of the role the operation
    takes (none for a public one), 13: none, 14: a malformed key, 15: a valid key of a role the
    operation refuses (or has no use for); `pick` chooses among the keys."""
    if choice == 13 or (role is None and choice < 13):
        return None
    if choice == 14:
        return MALFORMED_KEY
    if choice == 15:
        wrong = keys.officer if role in ("admin", "business") else keys.admin
        return f"Bearer {wrong[pick % len(wrong)]}"
    if role == "reader":
        pool = keys.officer if pick % 2 else keys.business
        pick //= 2
    else:
        pool = keys.admin if role == "admin" else keys.business
    return f"Bearer {pool[pick % len(pool)]}"


def drawn_authorization(drawn: str, role: str | None, keys: Keys) -> str | None:
    """The Authorization header of a request whose key no hook drew (schemathesis's coverage
    phase, public operations): a function of what was drawn for it, the same in every run and
    when Hypothesis replays the case."""
    digest = _digest(drawn)
    return authorization(digest % 16, digest >> 8, role, keys)


def with_caller(case: GenericCase[Any]) -> st.SearchStrategy[GenericCase[Any]]:
    """A case of the fuzzing phase with its Authorization header drawn by Hypothesis ("": send
    none): a function of the drawn request's text would give every request that carries the
    same real identifier the same key."""
    keys = TARGETS.keys
    role = role_for(case.operation.method.upper(), case.operation.path)
    if keys is None or role is None:
        # A public operation: its requests differ by what was drawn, not by the key (a draw
        # here would make as many examples of `GET /healthz` as the budget allows).
        return st.just(case)

    def called(choice: int, pick: int) -> GenericCase[Any]:
        headers = case.headers.copy()
        headers["Authorization"] = authorization(choice, pick, role, keys) or ""
        case.headers = headers
        return case

    return st.builds(called, st.integers(0, 15), st.integers(0, 1 << 16))
