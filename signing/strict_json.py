"""Strict JSON for what the service is sent: orjson's reading plus I-JSON's unique member names.

orjson, like most parsers, silently keeps the last of two members with the same name. A
submission read that way can mean one thing here and another to the software that wrote it or to
anyone reading the same bytes with a first-wins parser: RFC 8785's canonical form, which the
seller signs, is defined for I-JSON (RFC 7493) only, and RFC 7515 (4) has JWS readers refuse
repeated header names. So every submission body, batch line and JWS protected header is read with
`loads`, which refuses them (docs/signing.md, "Strict JSON").

orjson parses first (its errors and limits, and the value the service uses); then one scan of the
same bytes finds a repeated name, comparing names unescaped ("a" and "\\u0061" are one name). The
compiled core's scan (`einvoice_core.first_duplicate_member`, core/src/ijson.rs: a few
microseconds per KB) where it is installed (einvoice/accelerator.py), else `first_duplicate_pure`
below, which gives the same answers. The scan also bounds nesting at `MAX_DEPTH` levels: a
submission has 5.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

from einvoice.accelerator import core
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


class _Members(list[tuple[str, Any]]):
    """An object as the standard library's parser reads it, every member kept in order."""


class _TooDeep(Exception):
    pass


def first_duplicate_pure(data: bytes) -> str | None:
    """The compiled scan's answer, in Python, for bytes orjson reads: the JSON pointer of the
    first member, in document order, whose name an earlier member of its object has already;
    None when there is none; ValueError when nesting goes deeper than `MAX_DEPTH` levels before
    such a member (the compiled scan's message, with its byte offset).

    The standard library's parser keeps every member (`object_pairs_hook`; numbers are not
    converted, only names matter), and a walk in document order (a name before its member's
    value) finds the first repeat."""
    try:
        return _walk(_read(data), "", 0)
    except (_TooDeep, RecursionError):
        # Deeper than the walk goes, or than the standard library's parser (about 1,000 levels;
        # orjson reads 1,024). The compiled scan stops at the first container that opens too
        # deep: read what comes before it, with that container as a 0 and the open ones closed,
        # for a repeated name there; else refuse at that byte.
        at, closers = _first_too_deep(data)
        found = _walk(_read(data[:at] + b"0" + closers), "", 0)
        if found is not None:
            return found
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels at byte {at}") from None


def _read(data: bytes) -> Any:
    return json.loads(
        data.decode(), object_pairs_hook=_Members, parse_int=_no_number, parse_float=_no_number
    )


def _no_number(_text: str) -> None:
    return None


def _walk(value: Any, pointer: str, depth: int) -> str | None:
    """The first repeated name under `value` (`depth` containers around it), in document order:
    each name is checked before its member's value is walked. Recursive, `MAX_DEPTH` deep."""
    if isinstance(value, _Members):
        if depth >= MAX_DEPTH:
            raise _TooDeep
        seen: set[str] = set()
        for name, member in value:
            if name in seen:
                return pointer + "/" + _token(name)
            seen.add(name)
            if isinstance(member, list):  # an object (_Members) or an array
                found = _walk(member, pointer + "/" + _token(name), depth + 1)
                if found is not None:
                    return found
    elif isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise _TooDeep
        for index, item in enumerate(value):
            if isinstance(item, list):
                found = _walk(item, f"{pointer}/{index}", depth + 1)
                if found is not None:
                    return found
    return None


def _token(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")  # RFC 6901


# A string (skipped whole, so brackets inside it do not count), or a bracket.
_STRUCTURE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_CLOSER = {ord("["): b"]", ord("{"): b"}"}


def _first_too_deep(data: bytes) -> tuple[int, bytes]:
    """Where the first container opens inside `MAX_DEPTH` others, and the closers of those."""
    closers: list[bytes] = []
    for match in _STRUCTURE.finditer(data):
        byte = data[match.start()]
        if byte in _CLOSER:
            if len(closers) >= MAX_DEPTH:
                return match.start(), b"".join(reversed(closers))
            closers.append(_CLOSER[byte])
        elif byte != ord('"'):
            closers.pop()
    raise AssertionError("called only for a document nested too deep")


# The scan `loads` uses: the compiled one where the core is there (einvoice/accelerator.py),
# bound once here so that the choice costs nothing per call.
first_duplicate_member: Callable[[bytes], str | None] = (
    first_duplicate_pure if core is None else core.first_duplicate_member
)
