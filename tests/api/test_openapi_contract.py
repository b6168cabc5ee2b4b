"""The OpenAPI document is the contract (issue #18, api/openapi.py): every operation says what it
takes and every answer it can give, in the service's real shapes. Built in process; the fuzz
(tests/fuzz/test_openapi.py) checks real answers against it, status, media type and body."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jsonschema_rs
import pytest

from api.app import create_app
from api.openapi import AUTHENTICATED, BEARER, WITH_BODY
from einvoice.config import Settings
from einvoice.invoice.samples import sample_invoice

DOCUMENT = create_app(Settings()).openapi()
OPERATIONS = [
    (method.upper(), path, spec)
    for path, operations in DOCUMENT["paths"].items()
    for method, spec in operations.items()
]
# Open to anyone: no key, so no 401 or 403 of a key's.
PUBLIC = {
    ("GET", "/.well-known/jwks.json"),
    ("POST", "/v1/verify"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}
# Operations that read a body, and the media types they take.
BODIES = {
    ("POST", "/v1/invoices"): {"application/json", "application/xml", "text/xml"},
    ("POST", "/v1/batches"): {"application/x-ndjson"},
    ("POST", "/v1/notices"): {"application/json"},
    ("POST", "/v1/verify"): {"application/json"},
    ("POST", "/v1/admin/taxpayers"): {"application/json"},
    ("PATCH", "/v1/admin/taxpayers/{tax_code}"): {"application/json"},
    ("POST", "/v1/admin/taxpayers/{tax_code}/keys"): {"application/json"},
    ("POST", "/v1/admin/clients"): {"application/json"},
}


def _ids(operations: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [f"{method} {path}" for method, path, _ in operations]


def _validate(instance: Any, schema_name: str) -> None:
    """Validate against a component schema (JSON Schema 2020-12, as OpenAPI 3.1 uses), its
    references resolved in the whole document."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": DOCUMENT["components"]}
    jsonschema_rs.Draft202012Validator(schema).validate(instance)


@pytest.mark.parametrize(("method", "path", "spec"), OPERATIONS, ids=_ids(OPERATIONS))
def test_every_operation_is_described(method: str, path: str, spec: dict[str, Any]) -> None:
    assert spec.get("summary"), f"{method} {path} has no summary"
    assert spec.get("description"), f"{method} {path} has no description"
    assert any(status.startswith("2") for status in spec["responses"])


@pytest.mark.parametrize(("method", "path", "spec"), OPERATIONS, ids=_ids(OPERATIONS))
def test_keyed_operations_name_the_bearer_scheme_and_its_answers(
    method: str, path: str, spec: dict[str, Any]
) -> None:
    if (method, path) in PUBLIC:
        assert "security" not in spec
        return
    assert spec["security"] == [{BEARER: []}]
    assert {str(status) for status in AUTHENTICATED} <= set(spec["responses"])


@pytest.mark.parametrize(("method", "path", "spec"), OPERATIONS, ids=_ids(OPERATIONS))
def test_every_error_answer_is_the_one_error_shape(
    method: str, path: str, spec: dict[str, Any]
) -> None:
    for status, answered in spec["responses"].items():
        if not status.startswith(("4", "5")) or path == "/readyz":
            continue
        content = answered["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (status, answered)
        _validate(content["example"], "Error")


@pytest.mark.parametrize(
    ("operation", "media_types"), BODIES.items(), ids=[" ".join(k) for k in BODIES]
)
def test_every_body_is_documented(operation: tuple[str, str], media_types: set[str]) -> None:
    method, path = operation
    spec = DOCUMENT["paths"][path][method.lower()]

    assert set(spec["requestBody"]["content"]) == media_types
    assert {str(status) for status in WITH_BODY} - {"408", "415"} <= set(spec["responses"])


def test_no_framework_shapes_the_service_never_answers() -> None:
    text = repr(DOCUMENT)

    assert "HTTPValidationError" not in text
    assert "ValidationError" not in DOCUMENT["components"]["schemas"]
    assert DOCUMENT["components"]["securitySchemes"][BEARER] == {
        "type": "http",
        "scheme": "bearer",
        "description": DOCUMENT["components"]["securitySchemes"][BEARER]["description"],
    }


def test_the_documented_invoice_schema_takes_a_valid_invoice_and_refuses_a_broken_one() -> None:
    invoice = sample_invoice(issued=dt.date(2026, 11, 30))
    submission = {"invoice": invoice, "signature": "eyJhbGciOiJFUzI1NiJ9..c2ln"}

    _validate(submission, "Submission")
    with pytest.raises(jsonschema_rs.ValidationError):
        _validate({**submission, "note": 1}, "Submission")
    broken = {**invoice, "totals": {**invoice["totals"], "total_payable": 1100}}
    with pytest.raises(jsonschema_rs.ValidationError):  # money is a decimal string
        _validate({**submission, "invoice": broken}, "Submission")
