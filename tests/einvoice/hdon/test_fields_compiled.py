"""The compiled reader of DLHDon (core/src/hdon.rs) against the reference (`invoice_of_reference`,
lxml): on every document it reads what the reference reads, or steps aside (None)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from einvoice.hdon.fields import (
    COMPILED_READER,
    GROUPS,
    HEADER,
    hdon_of,
    invoice_of,
    invoice_of_reference,
)
from einvoice.hdon.parse import NAMESPACE, MalformedXml, parse_hdon
from einvoice.invoice.samples import sample_invoice
from tests.einvoice.hdon.support import ISSUED, TAX_CODE, invoice
from tests.support import compiled_core

pytestmark = compiled_core


def _both(body: bytes) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    document = parse_hdon(body)
    assert COMPILED_READER is not None
    compiled = COMPILED_READER.read(document.data_canonical, document.namespace)
    return compiled, invoice_of_reference(document)


def _sample(lines: int = 10, namespace: str | None = None) -> bytes:
    content = sample_invoice(seller_tax_code=TAX_CODE, issued=ISSUED, lines=lines)
    return etree.tostring(hdon_of(content, namespace=namespace))


@pytest.mark.parametrize("namespace", [None, NAMESPACE])
def test_the_samples_read_the_same(namespace: str | None) -> None:
    compiled, reference = _both(_sample(namespace=namespace))
    assert compiled is not None
    assert compiled == reference
    assert reference == invoice()


def test_a_prefixed_namespace_reads_the_same() -> None:
    body = _sample().replace(b"<", b"<inv:").replace(b"<inv:/", b"</inv:")
    body = body.replace(b"<inv:HDon>", f'<inv:HDon xmlns:inv="{NAMESPACE}">'.encode(), 1)
    compiled, reference = _both(body)
    assert compiled is not None
    assert compiled == reference


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<SHDon>1</SHDon>", b"<SHDon>  1\n</SHDon>"),  # white space around a value
        (b"<SHDon>1</SHDon>", b"<SHDon>&#x31;</SHDon>"),  # a character reference
        (b"<SHDon>1</SHDon>", b"<SHDon>1</SHDon><SHDon>2</SHDon>"),  # the first counts
        (b"<SHDon>1</SHDon>", b"<SHDon></SHDon><SHDon>2</SHDon>"),  # an empty first: absent
        (b"<SHDon>1</SHDon>", b"<SHDon>1234567890</SHDon>"),  # too long for a number: text
        (b"<SHDon>1</SHDon>", b"<SHDon>\xd9\xa1</SHDon>"),  # an Arabic-Indic digit
        (b"<SHDon>1</SHDon>", b"<SHDon>\xc2\xa01</SHDon>"),  # a no-break space at the edge
        (b"<SHDon>1</SHDon>", b"<SHDon>1<?pi x?>2</SHDon>"),  # the text stops at a PI
        (b"<SHDon>1</SHDon>", b"<SHDon>1<b/>2</SHDon>"),  # and at a child element
        (b"<SHDon>1</SHDon>", b'<x:SHDon xmlns:x="urn:other">7</x:SHDon><SHDon>1</SHDon>'),
        (b"<TSuat>10%</TSuat>", b"<TSuat>KHAC:5.25%</TSuat>"),
        (b"<Ten>", b"<Ten>A &amp; B &lt;C&gt; "),
        (b"<MST>", b'<MST xmlns="">'),  # an element taken out of the namespace
    ],
)
@pytest.mark.parametrize("namespace", [None, NAMESPACE])
def test_edge_cases_read_the_same_or_are_left_to_the_reference(
    old: bytes, new: bytes, namespace: str | None
) -> None:
    body = _sample(lines=2, namespace=namespace)
    assert old in body
    compiled, reference = _both(body.replace(old, new, 1))
    assert compiled is None or compiled == reference


def test_comments_are_left_to_the_reference() -> None:
    """C14N drops comments, where lxml's `.text` stops at one: such documents are read by the
    reference only."""
    body = _sample(lines=1).replace(b"<SHDon>1</SHDon>", b"<SHDon>1<!-- c -->2</SHDon>")
    document = parse_hdon(body)
    assert document.has_comments
    assert invoice_of(document) == invoice_of_reference(document)
    assert invoice_of(document)["number"] == 1


_NAMES = sorted(
    {HEADER.element}
    | {part for group in GROUPS for part in group.element.split("/")}
    | {part for group in (HEADER, *GROUPS) for f in group.fields for part in f.element.split("/")}
)
_TEXTS = st.text(alphabet=" \t\n1209.%:KHACabcĐđ&<>\"'\xa0\u0661", max_size=8)


def _element(depth: int) -> st.SearchStrategy[etree._Element]:
    def build(name: str, text: str, children: list[etree._Element]) -> etree._Element:
        element = etree.Element(name)
        element.text = text
        element.extend(children)
        return element

    children = st.lists(_element(depth - 1), max_size=4) if depth > 0 else st.just([])
    return st.builds(build, st.sampled_from(_NAMES), _TEXTS, children)


@settings(max_examples=300, deadline=None)
@given(st.lists(_element(3), max_size=5))
def test_random_trees_read_the_same_or_are_left_to_the_reference(
    children: list[etree._Element],
) -> None:
    root = etree.Element("HDon")
    data = etree.SubElement(root, "DLHDon", Id="data")
    data.extend(children)
    try:
        compiled, reference = _both(etree.tostring(root, encoding="UTF-8"))
    except MalformedXml:
        return
    assert compiled is None or compiled == reference
