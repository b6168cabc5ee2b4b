"""Strict JSON for what the service is sent: orjson's reading plus I-JSON's unique member names.

orjson, like most parsers, silently keeps the last of two members with the same name. A
submission read that way can mean one thing here and another to the software that wrote it or to
anyone reading the same bytes with a first-wins parser: RFC 8785's canonical form, which the
seller signs, is defined for I-JSON (RFC 7493) only, and RFC 7515 (4) has JWS readers refuse
repeated header names. So every submission body, batch line and JWS protected header is read with
`loads`, which refuses them (docs/signing.md, "Strict JSON").

orjson parses first (its errors and limits, and the value the service uses); the compiled core
then scans the same bytes once for a repeated name (`einvoice_core.first_duplicate_member`,
core/src/ijson.rs: a few microseconds per KB), comparing names unescaped ("a" and "\\u0061" are
one name). The scan also bounds nesting at `MAX_DEPTH` levels: a submission has 5.
"""

from __future__ import annotations

from typing import Any

import orjson
from einvoice_core import first_duplicate_member

from einvoice.errors import shown

MAX_DEPTH = 64  # core/src/ijson.rs MAX_DEPTH


class StrictJsonError(ValueError):
    """Not strict JSON."""


class NotJson(StrictJsonError):
    """Not JSON (orjson's reading), or nested deeper than `MAX_DEPTH` levels."""


class DuplicateMember(StrictJsonError):
    """An object has two members of one name; `pointer` (RFC 6901) is the object's pointer plus
    the name, and `name` the name itself."""

    def __init__(self, pointer: str) -> None:
        self.pointer = pointer
        self.name = pointer.rpartition("/")[2].replace("~1", "/").replace("~0", "~")
        super().__init__(f"the member name {shown(self.name)} appears twice in one object")


def loads(data: bytes) -> Any:
    """The value of `data`, read by orjson, when no object in it repeats a member name."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise NotJson(str(error)) from error
    try:
        pointer = first_duplicate_member(data)
    except ValueError as error:  # orjson read it, so only the depth limit is left to refuse
        raise NotJson(str(error)) from error
    if pointer is not None:
        raise DuplicateMember(pointer)
    return value
