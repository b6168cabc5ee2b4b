"""The authority's answer to an XML invoice: the received `HDon`, byte for byte, with `MCCQT` (the
code, with an Id) added before `DSCKS`, and the authority's XML Signature in `DSCKS/CQT` over
DLHDon and MCCQT, KeyInfo carrying the authority's certificate (the JWKS's `x5c`).

The received bytes are never re-serialised: DLHDon and the seller's signature stay exactly as
sent (a parser and serialiser would normalise empty elements, character references, quotes).
The new parts are spliced in at byte offsets found by a byte search when the tags sought occur
once, else by expat, which reports where each tag begins (the document has already passed the
hardened parse: UTF-8, no DOCTYPE, so expat meets no entities).
The authority's signature is computed from digests (DLHDon's, known from the verification, and
the new MCCQT's) and spliced in too: exclusive C14N makes each element's canonical form, and
SignedInfo's, independent of where it sits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.parsers import expat

from einvoice.hdon.parse import HDonDocument, MalformedXml
from signing.authority import AuthorityKey
from signing.xml_signature import element_digest, sign_references

if TYPE_CHECKING:
    from einvoice_core import TokenSigner


@dataclass(frozen=True)
class _Offsets:
    signatures_start: int  # where `<DSCKS` begins
    signatures_end: int  # where `</DSCKS>` begins
    authority: tuple[int, int] | None  # an empty DSCKS/CQT sent as a placeholder: its bytes


def coded_hdon(
    body: bytes,
    document: HDonDocument,
    code: str,
    key: AuthorityKey,
    data_digest: str,
    signer: TokenSigner | None = None,
) -> bytes:
    """The answer: `body` with the MCCQT and the authority's signature (`key`: ES256 or RSA;
    `data_digest`: DLHDon's, signing/xml_signature.py `data_digest`; `signer`: `key`'s compiled
    signer when it has one)."""
    prefix = document.data.prefix
    written = f"{prefix}:" if prefix else ""
    code_id = _free_id(document, f"MCCQT-{code}")
    offsets = _quick_offsets(body, written) or _offsets(body, written)
    code_element = f'<{written}MCCQT Id="{code_id}">{code}</{written}MCCQT>'.encode()
    code_digest = element_digest("MCCQT", prefix, document.namespace, {"Id": code_id}, code)
    signature = sign_references(
        [(document.data_id, data_digest), (code_id, code_digest)],
        key.private_key,  # type: ignore[arg-type]  # an Ed25519 key is refused there
        key.certificate,
        signer,
    )
    if offsets.authority is not None:  # replace the seller's empty placeholder
        start, end = offsets.authority
    else:
        start = end = offsets.signatures_end
    return b"".join(
        (
            body[: offsets.signatures_start],
            code_element,
            body[offsets.signatures_start : start],
            f"<{written}CQT>".encode(),
            signature,
            f"</{written}CQT>".encode(),
            body[end:],
        )
    )


def _free_id(document: HDonDocument, wanted: str) -> str:
    taken = {value for value, _ in document.ids}
    candidate, counter = wanted, 1
    while candidate in taken:
        counter += 1
        candidate = f"{wanted}-{counter}"
    return candidate


def _quick_offsets(body: bytes, prefix: str) -> _Offsets | None:
    """The offsets by byte search when the names sought occur only in the tags sought (the usual
    case); None when anything is ambiguous, for expat to decide (`_offsets`). Two scans of the
    whole body: `DSCKS` exactly twice (its opening and closing tags), `CQT` at most twice (an
    empty placeholder's tags), any other mention of either (in text, a comment, another
    element's name) sends the document to expat."""
    opening, closing = f"<{prefix}DSCKS>".encode(), f"</{prefix}DSCKS>".encode()
    authority = f"<{prefix}CQT".encode()
    if body.count(f"{prefix}DSCKS".encode()) != 2:
        return None
    start = body.find(opening)
    end = body.find(closing, start)
    if start < 0 or end < 0:
        return None
    mentions = body.count(f"{prefix}CQT".encode())
    if mentions == 0:
        return _Offsets(start, end, None)
    found = body.find(authority, start, end)
    if found < 0 or mentions > 2:
        return None
    after = body[found + len(authority) : found + len(authority) + 1]
    if after not in (b">", b"/"):
        return None  # `<CQTx`, or attributes: expat decides
    tag_end = _after_tag(body, found)
    if body[tag_end - 2 : tag_end] == b"/>":
        return _Offsets(start, end, (found, tag_end)) if mentions == 1 else None
    closing_authority = body.find(f"</{prefix}CQT>".encode(), tag_end, end)
    if closing_authority < 0 or mentions != 2:
        return None
    return _Offsets(start, end, (found, _after_tag(body, closing_authority)))


def _offsets(body: bytes, prefix: str) -> _Offsets:
    parser = expat.ParserCreate()
    depth = 0
    found: dict[str, int] = {}
    authority_start: int | None = None
    authority: tuple[int, int] | None = None
    signatures, cqt = f"{prefix}DSCKS", f"{prefix}CQT"

    def start(name: str, _attributes: object) -> None:
        nonlocal depth, authority_start
        depth += 1
        if depth == 2 and name == signatures:
            found["start"] = parser.CurrentByteIndex
        elif depth == 3 and name == cqt and "start" in found and "end" not in found:
            authority_start = parser.CurrentByteIndex

    def end(name: str) -> None:
        nonlocal depth, authority
        if depth == 2 and name == signatures:
            found["end"] = parser.CurrentByteIndex
        elif depth == 3 and name == cqt and authority_start is not None and authority is None:
            opening_end = _after_tag(body, authority_start)
            if body[opening_end - 2 : opening_end] == b"/>":  # `<CQT/>`: one tag
                authority = (authority_start, opening_end)
            else:
                authority = (authority_start, _after_tag(body, parser.CurrentByteIndex))
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(body, True)
    except expat.ExpatError as error:  # lxml read it; expat is stricter on a few points
        raise MalformedXml(f"not well-formed XML: {error}") from error
    if "start" not in found or "end" not in found:
        raise MalformedXml("DSCKS, with the seller's signature, is required", field="/HDon/DSCKS")
    if found["end"] == found["start"]:  # `<DSCKS/>`: the seller's signature cannot be in it
        raise MalformedXml("DSCKS holds the seller's signature", field="/HDon/DSCKS")
    return _Offsets(found["start"], found["end"], authority)


def _after_tag(body: bytes, tag_start: int) -> int:
    """The offset just after the tag that begins at `tag_start` (no `>` inside a tag's
    attribute values here: CQT, as the seller may send it, has none)."""
    return body.index(b">", tag_start) + 1
