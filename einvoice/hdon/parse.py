"""Reading a national-format invoice (`HDon`, docs/invoice-format.md) from hostile bytes.

lxml (libxml2) with every door shut: no DTD loaded or allowed, no entity expanded, no network,
no huge trees; a document with a DOCTYPE is refused outright (entity bombs and external
references need one). Size is bounded by the national message limit, depth by a walk before
anything else reads the tree. The result names the elements the rest of the service uses, found
by position under the root, never by searching the document, so a signature check and the
mapping look at the same `DLHDon` (the defence against signature wrapping starts here).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from lxml import etree

from einvoice.error_codes import ErrorCode
from einvoice.errors import ServiceError

MAX_BYTES = 2 * 1024 * 1024  # the national message limit
MAX_DEPTH = 16  # HDon/DLHDon/NDHDon/TToan/THTTLTSuat/LTSuat/TSuat is 7 deep
NAMESPACE = "http://hoadondientu.gdt.gov.vn/2020/01/nd123"
DSIG = "http://www.w3.org/2000/09/xmldsig#"

PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_blank_text=False,  # the signed bytes are kept as they came
)


class MalformedXml(ServiceError):
    status = 400
    code = ErrorCode.MALFORMED_XML


@dataclass(frozen=True)
class HDonDocument:
    """One received `HDon`: its tree, namespace (None or the national one), and the elements the
    service reads, each the one at its fixed place under the root."""

    root: etree._Element
    namespace: str | None
    data: etree._Element  # HDon/DLHDon, what the seller signs
    data_id: str  # its Id attribute
    seller_signature: etree._Element | None  # HDon/DSCKS/NBan/ds:Signature
    has_code: bool  # HDon/MCCQT is present (a seller never sends one)
    # DSCKS/CQT holds anything (elements, attributes, text): the authority's place, which a seller
    # leaves out or sends empty.
    authority_signed: bool = False
    has_comments: bool = False  # anywhere in the body (the compiled reader leaves those alone)

    @cached_property
    def data_canonical(self) -> bytes:
        """DLHDon in exclusive C14N 1.0 without comments: what the invoice hash covers
        (signing/xml_signature.py) and what the compiled reader reads (einvoice/hdon/fields.py)."""
        return etree.tostring(self.data, method="c14n", exclusive=True, with_comments=False)

    @cached_property
    def ids(self) -> list[tuple[str, etree._Element]]:
        """Every Id, ID or id attribute's value with its element, in document order: what an
        XML Signature's `#Id` reference may name (read once, for the signature check and the
        answer's new Id)."""
        found: Any = _ID_ATTRIBUTES(self.root)
        return [(str(value), value.getparent()) for value in found]

    def tag(self, name: str) -> str:
        return f"{{{self.namespace}}}{name}" if self.namespace else name


def parse_hdon(body: bytes) -> HDonDocument:
    """The invoice, or MalformedXml naming what is wrong (`field`: an XPath-like path)."""
    if len(body) > MAX_BYTES:
        raise MalformedXml(f"an invoice is at most {MAX_BYTES} bytes", field="/HDon")
    if b"<!DOCTYPE" in body:  # before libxml2 reads a byte of it (UTF-8 is the format's)
        raise MalformedXml("a DOCTYPE is not allowed (no DTDs, no entities)")
    try:
        tree = etree.fromstring(body, PARSER).getroottree()
    except etree.XMLSyntaxError as error:
        raise MalformedXml(f"not well-formed XML: {error.msg}") from error
    info: Any = tree.docinfo  # lxml-stubs lack `doctype`
    if info.doctype or info.internalDTD is not None:
        raise MalformedXml("a DOCTYPE is not allowed (no DTDs, no entities)")
    if (info.encoding or "UTF-8").upper() != "UTF-8":
        # The format's encoding, and the one the answer's byte splicing relies on.
        raise MalformedXml(f"the invoice is UTF-8, not {info.encoding}")
    root = tree.getroot()
    _check_depth(root)
    namespace = etree.QName(root).namespace
    if etree.QName(root).localname != "HDon" or namespace not in (None, NAMESPACE):
        raise MalformedXml(
            f"the root element must be HDon, with no namespace or {NAMESPACE}", field="/HDon"
        )
    document = _Elements(namespace)
    data = document.only(root, "DLHDon", "/HDon/DLHDon")
    data_id = data.get("Id")
    if not data_id:
        raise MalformedXml("DLHDon needs an Id attribute", field="/HDon/DLHDon/@Id")
    signatures = document.optional(root, "DSCKS", "/HDon/DSCKS")
    seller = (
        document.optional(signatures, "NBan", "/HDon/DSCKS/NBan")
        if signatures is not None
        else None
    )
    authority = (
        document.optional(signatures, "CQT", "/HDon/DSCKS/CQT") if signatures is not None else None
    )
    seller_signature = None
    if seller is not None:
        found = [child for child in seller if child.tag == f"{{{DSIG}}}Signature"]
        if len(found) > 1:
            raise MalformedXml("one seller signature", field="/HDon/DSCKS/NBan")
        seller_signature = found[0] if found else None
    return HDonDocument(
        root=root,
        namespace=namespace,
        data=data,
        data_id=data_id,
        seller_signature=seller_signature,
        has_code=document.optional(root, "MCCQT", "/HDon/MCCQT") is not None,
        authority_signed=authority is not None
        and (len(authority) > 0 or bool(authority.attrib) or bool((authority.text or "").strip())),
        has_comments=b"<!--" in body,
    )


# Every Id, ID or id attribute of a document: libxml2's XPath, compiled once (about 9 us for an
# invoice, where a test of each element's attributes costs 115).
_ID_ATTRIBUTES = etree.XPath("//@*[local-name()='Id' or local-name()='ID' or local-name()='id']")

# Whether any element lies MAX_DEPTH levels below the root: libxml2's XPath, compiled once (lxml's
# `find` paths run in Python, about 40 times slower here).
_TOO_DEEP = etree.XPath("boolean(/*" + "/*" * MAX_DEPTH + ")")


def _check_depth(root: etree._Element) -> None:
    if _TOO_DEEP(root):
        raise MalformedXml(f"elements nest at most {MAX_DEPTH} deep")


@dataclass(frozen=True)
class _Elements:
    namespace: str | None

    def children(self, parent: etree._Element, name: str) -> list[etree._Element]:
        tag = f"{{{self.namespace}}}{name}" if self.namespace else name
        return [child for child in parent if child.tag == tag]

    def optional(self, parent: etree._Element, name: str, path: str) -> etree._Element | None:
        found = self.children(parent, name)
        if len(found) > 1:
            raise MalformedXml(f"{name} appears {len(found)} times", field=path)
        return found[0] if found else None

    def only(self, parent: etree._Element, name: str, path: str) -> etree._Element:
        found = self.optional(parent, name, path)
        if found is None:
            raise MalformedXml(f"{name} is required", field=path)
        return found
