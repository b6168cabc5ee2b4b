"""Which representation of a stored invoice the caller's Accept header asks for: JSON (the
default), an HDon's signed XML, or the readable HTML view (RFC 9110 12.5.1: the highest q wins).

Ties go to JSON, then XML, then HTML: JSON is the default and what integrators' software reads;
XML is asked for by accounting software, which names it beside JSON; HTML only by people, whose
browsers rank `text/html` first and everything else (`*/*`) lower, so a browser gets the view and
software that names nothing, or anything vague, keeps JSON.
"""

from __future__ import annotations

from typing import Literal

Representation = Literal["json", "xml", "html"]

_MEDIA_TYPES: dict[str, Representation] = {
    "application/json": "json",
    "application/*": "json",
    "*/*": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    "text/html": "html",
}
_TIE_ORDER: tuple[Representation, ...] = ("json", "xml", "html")
# What software sends most (nothing, curl's and httpx's `*/*`, JSON), known without parsing.
_PLAIN_JSON = frozenset({"", "*/*", "application/json"})


def representation(accept: str) -> Representation:
    """The representation `accept` ranks highest; JSON for an absent or unparsable header, a tie,
    and a header that names none of them."""
    if accept in _PLAIN_JSON:  # most lookups: answered without parsing
        return "json"
    best: dict[Representation, float] = dict.fromkeys(_TIE_ORDER, 0.0)
    for item in accept.split(","):
        media_type, *parameters = (part.strip() for part in item.split(";"))
        chosen = _MEDIA_TYPES.get(media_type.lower())
        if chosen is None:
            continue
        best[chosen] = max(best[chosen], _quality(parameters))
    # max() keeps the first of equals: the tie order.
    preferred = max(_TIE_ORDER, key=best.__getitem__)
    return preferred if best[preferred] > 0 else "json"


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                return 0.0
            # A weight is 0 to 1; anything else (2, nan) is as unreadable as "nonsense".
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0
