"""Arbitrary input at every parameter of the lookup routes, through the real app: never a 5xx, and
every 4xx in the one error shape with a catalogued code.

The app is `api.app.create_app` over this session's keyspace, database and Redis, served in
process (an ASGI transport, its lifespan run here), so that each request can come from its own
client address: the public check's per-address limit would otherwise answer most of them 429,
and the shared test service's limit would be spent for the other tests. The callers are an
officer and the seller (both of the `internal` rate class, for the same reason), and nobody.

Examples per route: 200 by default (CI); set EINVOICE_FUZZ_EXAMPLES for a longer run, e.g.
`EINVOICE_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/lookup/test_inputs.py` (docs/lookup.md).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from einvoice.config import Settings
from einvoice.error_codes import ErrorCode
from einvoice.registry import admin
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.api.test_invoices import make_seller

# The Cassandra driver's own threads use `random` while an example is drawn; Hypothesis, seeing
# the global generator move, would take it for the strategies' doing.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
FUZZ = settings(
    max_examples=int(os.environ.get("EINVOICE_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
CATALOGUE = {code.value for code in ErrorCode}

# Text a client may send: anything (no lone surrogates: they cannot be sent as UTF-8), and what
# the review found or could have: digits of other scripts, huge numbers, zero, control
# characters, dates at and past the calendar's ends.
_OTHER_DIGITS = st.text(alphabet="٠١٢٣٤٥٦٧٨٩０１２３４５６７８９०१२३𝟎𝟏²³", min_size=1, max_size=12)
_SPECIAL = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "00",
        " 1",
        "1e9",
        "NaN",
        "Infinity",
        "9" * 40,
        "\x00",
        "\x00" * 3,
        "\r\n",
        "\u202e",
        "0001-01-01",
        "9999-12-31",
        "+10000-01-01",
        "10000-01-01",
        "2025-02-29",
        "1700000000",
        "0100233488",
        "0100233488-001",
        "0100233489",
        "C25TAA",
        "00" + "F" * 32,
        "x" * 5000,
    ]
)
# A valid-looking value with control or format characters after it.
_SPOILT = st.tuples(
    st.sampled_from(["0100233488", "C25TAA", "1", "12", "2026-01-01", "00" + "F" * 32]),
    st.text(st.characters(categories=["Cc", "Cf", "Zs"]), min_size=1, max_size=3),
).map("".join)
TEXT = (
    st.text(max_size=40)
    | _OTHER_DIGITS
    | _SPECIAL
    | _SPOILT
    | st.integers().map(str)
    | st.dates().map(dt.date.isoformat)
)


@dataclass
class App:
    client: httpx.AsyncClient
    callers: list[dict[str, str]]  # the officer (most often: the deepest path), seller, nobody
    seller_tax_code: str


@pytest.fixture(scope="module")
async def app(settings: Settings, session_env: dict[str, str]) -> AsyncIterator[App]:
    local = settings.model_copy(
        update={
            "authority_keys_dir": Path(session_env["EINVOICE_AUTHORITY_KEYS_DIR"]),
            "authority_active_kid": session_env["EINVOICE_AUTHORITY_ACTIVE_KID"],
        }
    )
    seller = await make_seller(local)
    pool = await create_pool(local)
    try:
        registry = Registry(pool)
        officer = await admin.add_client(registry, "officer", None, "internal")
        business = await admin.add_client(registry, "business", seller.tax_code, "internal")
    finally:
        await pool.close()
    fastapi_app = create_app(local)
    addresses = (f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" for n in itertools.count(1))

    async with fastapi_app.router.lifespan_context(fastapi_app) as state:

        async def served(scope: Any, receive: Any, send: Any) -> None:
            # What a server does with the lifespan's state, and a new client address each time.
            scope["state"] = dict(state or {})
            scope["client"] = (next(addresses), 40000)
            await fastapi_app(scope, receive, send)

        transport = httpx.ASGITransport(served, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://lookup.test") as client:
            yield App(
                client,
                [
                    {"Authorization": f"Bearer {officer.api_key}"},
                    {"Authorization": f"Bearer {officer.api_key}"},
                    {"Authorization": f"Bearer {business.api_key}"},
                    {},
                ],
                seller.tax_code,
            )


def check(response: httpx.Response) -> None:
    """Never a 5xx; a 4xx is {"errors": [{"code", "message", "field"?}, ...]} of catalogued codes."""
    request = f"{response.request.method} {response.request.url}"
    assert response.status_code < 500, f"{request}: {response.status_code} {response.text[:500]}"
    if response.status_code < 400:
        return
    body = response.json()
    assert set(body) == {"errors", "request_id"}, request
    assert body["errors"], request
    for error in body["errors"]:
        assert error["code"] in CATALOGUE, request
        assert isinstance(error["message"], str), request
        assert set(error) <= {"code", "message", "field"}, request
        assert isinstance(error.get("field", ""), str), request


@st.composite
def mixed(
    draw: st.DrawFn, valid: dict[str, Any], other: st.SearchStrategy[Any] = TEXT
) -> dict[str, Any]:
    """Parameters of a request: valid ones, of which usually one, sometimes more, is replaced
    by an arbitrary value or left out. A bad value is then most often the only one, and reaches
    the code behind the other parameters' checks."""
    names = draw(st.permutations(list(valid)))
    spoilt = draw(st.sampled_from([0, 1, 1, 1, 1, 2, len(names)]))
    params = dict(valid)
    for name in names[:spoilt]:
        if draw(st.integers(0, 4)):
            params[name] = draw(other)
        else:
            del params[name]
    return params


PRINTED = {
    "seller_tax_code": "0100233488",
    "template": "1",
    "symbol": "C25TAA",
    "number": "12",
    "total_payable": "1,100,000",
}


TODAY = dt.date.today()
_FILL = "<filled in by the test>"
_RECENT = st.dates(TODAY - dt.timedelta(days=400), TODAY + dt.timedelta(days=3))


CALLER = st.integers(0, 3)


@FUZZ
@given(caller=CALLER, code=TEXT)
async def test_an_invoice_by_code(app: App, caller: int, code: str) -> None:
    check(await app.client.get(f"/v1/invoices/{quote(code, safe='')}", headers=app.callers[caller]))


@FUZZ
@given(
    caller=CALLER,
    params=mixed(
        {name: PRINTED[name] for name in ("seller_tax_code", "template", "symbol", "number")}
    ),
)
async def test_an_invoice_by_key(app: App, caller: int, params: dict[str, str]) -> None:
    check(await app.client.get("/v1/invoices", params=params, headers=app.callers[caller]))


@FUZZ
@given(
    caller=CALLER,
    params=mixed(
        {"tax_code": _FILL, "from": _FILL, "to": _FILL, "limit": "10", "page_token": None}
    ),
    days=st.tuples(_RECENT, _RECENT),
)
async def test_a_sellers_listing(
    app: App, caller: int, params: dict[str, str | None], days: tuple[dt.date, dt.date]
) -> None:
    # Valid: the registered seller, a recent range in order, no page token. (Any other dates
    # come as arbitrary text, for the range's own rules.)
    valid = {"tax_code": app.seller_tax_code, "from": str(min(days)), "to": str(max(days))}
    params = {name: valid[name] if value is _FILL else value for name, value in params.items()}
    tax_code = params.pop("tax_code", None) or ""  # a path parameter: empty, not absent
    query = {name: value for name, value in params.items() if value is not None}
    path = f"/v1/sellers/{quote(tax_code, safe='')}/invoices"
    check(await app.client.get(path, params=query, headers=app.callers[caller]))


_JSON_VALUE = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and the infinities too: json.dumps writes them, and they are not JSON
    | TEXT
    | st.lists(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)
)
_FIELD_NAMES = st.sampled_from(
    ["seller_tax_code", "template", "symbol", "number", "total_payable", "token", "other"]
)


@FUZZ
@given(
    body=mixed({**PRINTED, "number": 12}, _JSON_VALUE)
    | mixed({"token": "e30.e30.e30", "other": 1}, _JSON_VALUE)
    | st.dictionaries(_FIELD_NAMES, _JSON_VALUE, max_size=7)
    | st.lists(st.integers(), max_size=2)
    | TEXT
    | st.binary(max_size=30),
)
async def test_the_public_check(app: App, body: Any) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await app.client.post(
        "/v1/verify", content=content, headers={"Content-Type": "application/json"}
    )
    check(response)


@FUZZ
@given(params=mixed(PRINTED) | mixed({"token": "e30.e30.e30"}))
async def test_the_lookup_page(app: App, params: dict[str, str]) -> None:
    response = await app.client.get("/", params=params)
    check(response)
    if response.status_code == 200:
        assert response.headers["content-type"].startswith("text/html")
