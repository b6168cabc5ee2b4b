"""The compiled core's field tables (core/src/rules/fields.rs) against the pydantic model.

The compiled core checks an invoice's structure by its own tables of member names, JSON types,
limits and presence, written by hand after einvoice/invoice/model.py. These tests read the tables
through `einvoice_core.field_tables()` and compare them with the validation schema pydantic builds
from the model, so a member added, removed, resized or made optional on one side only fails here.
The differential tests (test_compiled.py) then hold the rules themselves together.
"""

from __future__ import annotations

from typing import Any, NotRequired, cast

import einvoice_core
import pytest
from pydantic import ConfigDict, TypeAdapter, with_config

from einvoice.invoice import model

# Each pattern of the model by the name of the compiled core's check for it.
SHAPES = {
    model.DECIMAL_PATTERN: "decimal",
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "date",
    r"^[A-Z]{3}$": "currency",
    r"^[0-9]{12}$": "citizen_id",
}
Member = tuple[bool, bool, str, tuple[int | str, ...]]
Tables = dict[str, dict[str, Member]]


def describe(adapter: TypeAdapter[Any]) -> Tables:
    """The objects of a model as `einvoice_core.field_tables()` describes them:
    {object: {member: (required, nullable, kind, parameters)}}."""
    schema = cast(dict[str, Any], adapter.core_schema)
    definitions: dict[str, dict[str, Any]] = {}
    if schema["type"] == "definitions":
        definitions = {item["ref"]: item for item in schema["definitions"]}
        schema = schema["schema"]
    tables: Tables = {}
    _object(schema, definitions, tables)
    return tables


def _resolve(schema: dict[str, Any], definitions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if schema["type"] == "definition-ref":
        return definitions[schema["schema_ref"]]
    return schema


def _object(schema: dict[str, Any], definitions: dict[str, Any], tables: Tables) -> str:
    schema = _resolve(schema, definitions)
    name: str = schema["cls"].__name__
    # The compiled core refuses unknown members and anything but exact JSON types.
    assert schema.get("extra_behavior") == "forbid", f"{name} must forbid extra members"
    assert schema["config"].get("strict"), f"{name} must be strict"
    if name not in tables:
        tables[name] = {}
        for member, field in schema["fields"].items():
            tables[name][member] = _member(field, definitions, tables)
    return name


def _member(field: dict[str, Any], definitions: dict[str, Any], tables: Tables) -> Member:
    schema = _resolve(field["schema"], definitions)
    nullable = schema["type"] == "nullable"
    if nullable:
        schema = _resolve(schema["schema"], definitions)
    kind, parameters = _kind(schema, definitions, tables)
    return field["required"], nullable, kind, parameters


def _kind(
    schema: dict[str, Any], definitions: dict[str, Any], tables: Tables
) -> tuple[str, tuple[int | str, ...]]:
    kind = schema["type"]
    constraints = {key: value for key, value in schema.items() if key not in ("type", "metadata")}
    if kind == "typed-dict":
        return "object", (_object(schema, definitions, tables),)
    if kind == "list":
        items = _object(constraints.pop("items_schema"), definitions, tables)
        _no_other_constraints(kind, constraints, {"min_length", "max_length"})
        return "list", (constraints.get("min_length", 0), constraints["max_length"], items)
    if kind == "str" and "pattern" in constraints:
        _no_other_constraints(kind, constraints, {"pattern"})
        pattern = constraints["pattern"]
        assert pattern in SHAPES, f"the compiled core has no check for the pattern {pattern}"
        return SHAPES[pattern], ()
    if kind == "str":
        _no_other_constraints(kind, constraints, {"min_length", "max_length"})
        return "text", (constraints.get("min_length", 0), constraints["max_length"])
    if kind == "int":
        _no_other_constraints(kind, constraints, {"ge", "le"})
        return "integer", (constraints["ge"], constraints["le"])
    if kind == "literal":
        return "one_of", tuple(sorted(constraints["expected"]))
    pytest.fail(f"the compiled core has no kind for a {kind} member")


def _no_other_constraints(kind: str, constraints: dict[str, Any], known: set[str]) -> None:
    unknown = set(constraints) - known
    assert not unknown, f"the compiled core does not check {sorted(unknown)} of a {kind}"


MODEL = describe(model.INVOICE)
COMPILED = einvoice_core.field_tables()


def test_the_compiled_core_has_a_table_for_every_object_of_the_model() -> None:
    assert sorted(COMPILED) == sorted(MODEL)


@pytest.mark.parametrize("name", sorted(MODEL))
def test_each_table_has_the_models_members_types_limits_and_presence(name: str) -> None:
    assert COMPILED[name] == MODEL[name]


@with_config(ConfigDict(strict=True, extra="forbid"))
class _SellerWithFax(model.Seller):
    fax: NotRequired[model.Text20 | None]


def test_a_member_added_to_the_model_alone_is_caught() -> None:
    described = describe(TypeAdapter(_SellerWithFax))["_SellerWithFax"]

    assert described != COMPILED["Seller"]
    assert set(described) - set(COMPILED["Seller"]) == {"fax"}
