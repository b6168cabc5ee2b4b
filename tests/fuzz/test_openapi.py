"""Schemathesis against the service's own OpenAPI document: every operation it documents, with a
fixed seed and real API keys. No answer may be a 5xx (a 500 is always a bug, and the stack is up,
so a 503 is one too), and every 4xx carries the one error shape with a catalogued code.

The service under test is a process of this module's own: it trusts X-Forwarded-For from
loopback, and each request names another caller address, so the per-address limits (failed keys,
the public check) never answer 429 for the fuzz's volume. The keys are `internal` clients, a few
per role taken in turn, so the per-client limits do not either (api/ratelimit.py; no limit is a
setting). Operations get the role they take, and now and then no key, a malformed one or another
role's; real identifiers and signed submissions stand in for generated ones about half the time
(tests/fuzz/inputs.py), so requests get past the first check to the storage behind it.

Budget: EINVOICE_FUZZ_EXAMPLES examples per operation (Hypothesis's `max_examples` in
schemathesis's fuzzing phase; its examples and coverage phases add their own). An operation
without parameters has only a handful of distinct requests, so the total is less than examples
times operations; the default keeps it over the CI budget, which the last test checks.
EINVOICE_FUZZ_SEED changes the seed. The long run and the figures: docs/security.md, "Fuzzing".
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case as GenericCase
from schemathesis import CheckContext, HookContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from einvoice.config import Settings
from einvoice.error_codes import ErrorCode
from einvoice.registry import admin
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.api.test_invoices import make_seller
from tests.fuzz.inputs import (
    ADDRESSES,
    TARGETS,
    Keys,
    drawn_authorization,
    ndjson,
    role_for,
    submissions,
    with_caller,
    with_known,
)
from tests.fuzz.tally import TALLY
from tests.support import running_service

DEFAULT_EXAMPLES = 500
EXAMPLES = int(os.environ.get("EINVOICE_FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES)))
SEED = int(os.environ.get("EINVOICE_FUZZ_SEED", "14"))
# Requests a CI run sends at least (issue #14), checked when the default budget runs in full.
CI_BUDGET = 5_000
KEYS_PER_ROLE = 8

_CODES = {code.value: code for code in ErrorCode}
# Members an error answer may carry besides `errors`: INVOICE_NUMBER_USED names the invoice that
# holds the number, and ORIGINAL_REPLACED / ORIGINAL_CANCELLED the original (docs/errors.md).
_EXTRA_MEMBERS = {"existing", "original"}
# A case of any operation (schemathesis's Case is generic in the kind of operation).
Case = GenericCase[Any]

# The document is built in process when the module is collected: schemathesis's loader from a
# fixture (`schemathesis.pytest.from_fixture`, which would read it from the running service)
# fails on pytest 9.2 in schemathesis 4.32.5 ('Function' object has no attribute '_nodeid').
# The first test checks that the service serves this very document.
DOCUMENT = create_app(Settings()).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config(seed=SEED))
TALLY.operations = {
    result.ok().label for result in schema.get_all_operations() if isinstance(result, Ok)
}
# Batches are NDJSON, which schemathesis has no serializer of its own for.
schemathesis.serializer("application/x-ndjson")(ndjson)


@dataclass(frozen=True)
class FuzzService:
    url: str
    log_path: Path


@pytest.fixture(scope="module")
def fuzz_service(
    session_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzService]:
    log_path = tmp_path_factory.mktemp("fuzz") / "service.log"
    with running_service(
        session_env,
        log_path,
        # Loopback is a proxy: each request names its own caller in X-Forwarded-For.
        TRUSTED_PROXIES="127.0.0.0/8,::1/128",
        # Batches the fuzz gets accepted may pile up in the queue: no 429 for a backlog.
        BATCH_BACKLOG_LIMIT="1000000",
    ) as url:
        yield FuzzService(url, log_path)


@pytest.fixture(scope="module")
async def keys(settings: Settings, fuzz_service: FuzzService) -> AsyncIterator[Keys]:
    """The fuzz's keys, and the real objects it aims at (TARGETS): a seller with one invoice
    authenticated and one batch submitted, its key, and a client of its own."""
    seller = await make_seller(settings)
    async with httpx.AsyncClient(
        base_url=fuzz_service.url, headers=seller.headers, timeout=30
    ) as client:
        submission = seller.submission()
        authenticated = await client.post("/v1/invoices", json=submission)
        line = orjson.dumps(seller.submission(number=2)) + b"\n"
        batch = await client.post(
            "/v1/batches", content=line, headers={"Content-Type": "application/x-ndjson"}
        )
    assert authenticated.status_code == 201, authenticated.text
    assert batch.status_code == 202, batch.text
    invoice = submission["invoice"]
    pool = await create_pool(settings)
    try:
        registry = Registry(pool)

        async def issued(role: str, tax_code: str | None = None) -> list[str]:
            return [
                (await admin.add_client(registry, role, tax_code, "internal")).api_key
                for _ in range(KEYS_PER_ROLE)
            ]

        keys = Keys(
            admin=await issued("admin"),
            officer=await issued("officer"),
            business=await issued("business", seller.tax_code),
        )
        # A client the fuzz may revoke: none of its keys.
        target = await admin.add_client(registry, "officer", None)
    finally:
        await pool.close()
    TARGETS.seller, TARGETS.invoice, TARGETS.keys = seller, invoice, keys
    TARGETS.known.update(
        tax_code=seller.tax_code,
        seller_tax_code=seller.tax_code,
        kid=seller.kid,
        template=invoice["template"],
        symbol=invoice["symbol"],
        number=invoice["number"],
        total_payable=invoice["totals"]["total_payable"],
        code=authenticated.json()["code"],
        token=authenticated.json()["token"],
        batch_id=batch.json()["batch_id"],
        client_id=str(target.client.id),
    )
    yield keys
    TARGETS.clear()


def test_the_fuzzed_document_is_the_one_the_service_serves(service_url: str) -> None:
    served = httpx.get(f"{service_url}/openapi.json", timeout=30)

    assert served.status_code == 200
    assert served.json() == DOCUMENT


# Hooks of schemathesis's fuzzing phase (its coverage phase sends what the document says as is).


@schema.hook
def flatmap_path_parameters(context: HookContext, path_parameters: Any) -> st.SearchStrategy[Any]:
    return with_known(path_parameters)


@schema.hook
def flatmap_query(context: HookContext, query: Any) -> st.SearchStrategy[Any]:
    return with_known(query)


@schema.hook
def flatmap_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
    return submissions(body)


@schema.hook
def flatmap_case(context: HookContext, case: Case) -> st.SearchStrategy[Case]:
    return with_caller(case)


def error_shape(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """A 4xx is JSON {"errors": [{"code", "message", "field"?}, ...], "request_id"}: codes from
    the catalogue, each answered with its catalogued status, fields as JSON pointers, the id the
    answer's X-Request-ID gives."""
    status = response.status_code
    if not 400 <= status < 500:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), f"a {status} as {content_type!r}"
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as not_json:
        raise AssertionError(
            f"a {status} whose body is not JSON: {response.content[:200]!r}"
        ) from not_json
    assert isinstance(body, dict), f"a {status} whose body is not an object"
    assert "errors" in body, f"a {status} without errors"
    assert set(body) - {"errors", "request_id"} <= _EXTRA_MEMBERS, (
        f"a {status} with members {sorted(body)}"
    )
    # The request's id, as its header says (api/observe.py): every error can be quoted.
    assert body.get("request_id") == response.headers.get("x-request-id", [None])[0], (
        f"a {status} whose request_id is not its X-Request-ID"
    )
    errors = body["errors"]
    assert isinstance(errors, list), f"a {status} whose errors are not a list"
    assert errors, f"a {status} with no errors"
    for error in errors:
        assert isinstance(error, dict), f"an error that is not an object: {error!r}"
        assert {"code", "message"} <= set(error) <= {"code", "message", "field"}, error
        code = _CODES.get(error["code"])
        assert code is not None, f"a code not in einvoice.error_codes: {error['code']!r}"
        assert code.status == status, f"{code} is catalogued as {code.status}, answered {status}"
        assert isinstance(error["message"], str), error
        field = error.get("field", "")
        assert isinstance(field, str), error
        assert field == "" or field.startswith("/"), f"a field that is no JSON pointer: {field!r}"
    return None


# The contract (issue #18): every answer's status, media type and body are the ones the document
# gives for that operation, beside no server error and the one error shape.
CHECKS = [
    not_a_server_error,
    error_shape,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _log_since(path: Path, offset: int) -> str:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")[-6000:]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error(
    case: Case, keys: Keys, fuzz_service: FuzzService
) -> None:
    headers = {"X-Forwarded-For": next(ADDRESSES)}
    drawn_key = case.headers.get("Authorization")  # drawn by `with_caller`; "": none
    if drawn_key is None:  # the coverage phase, or a public operation
        # What was drawn, as text that is the same in every run (NotSet's repr has its address).
        body = None if isinstance(case.body, NotSet) else case.body
        drawn = repr((case.path_parameters, case.query, body, case.media_type))
        role = role_for(case.operation.method.upper(), case.operation.path)
        key = drawn_authorization(drawn, role, keys)
        if key is not None:
            headers["Authorization"] = key
    elif not drawn_key:
        del case.headers["Authorization"]
    log_offset = fuzz_service.log_path.stat().st_size

    response = case.call(base_url=fuzz_service.url, headers=headers, timeout=30)

    TALLY.count(case.operation.label, response.status_code)
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except Exception as failure:
        if response.status_code >= 500:
            failure.add_note(
                "the service log meanwhile:\n" + _log_since(fuzz_service.log_path, log_offset)
            )
        raise


def test_the_run_sent_the_ci_budget_to_every_operation(fuzz_service: FuzzService) -> None:
    if not TALLY.requests:
        pytest.skip("the fuzz did not run (deselected)")

    missing = TALLY.operations - set(TALLY.by_operation)
    log = fuzz_service.log_path.read_text(errors="replace")

    assert not missing, f"operations the fuzz never called: {sorted(missing)}"
    if EXAMPLES >= DEFAULT_EXAMPLES:
        assert TALLY.requests >= CI_BUDGET, "\n".join(TALLY.lines())
    # A 429 means the fuzz measured the limits instead of the routes: the keys and addresses
    # above are meant to keep them out of the way.
    assert TALLY.by_status[429] == 0, "\n".join(TALLY.lines())
    assert "Traceback" not in log, log[-6000:]
